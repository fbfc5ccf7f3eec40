// The CRM emulators are a target of their own so that hush-bench can run them too.
@_exported import CRMEmulators
