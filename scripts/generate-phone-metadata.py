#!/usr/bin/env python3
"""Writes Sources/HushCore/Addresses/PhoneMetadata+Generated.swift from libphonenumber's metadata.

The metadata comes from the pinned `phonenumbers` package on PyPI (the Python port of Google's
libphonenumber, which carries the same XML metadata). Re-run after changing the pin:

    pip install phonenumbers==9.0.43
    python3 scripts/generate-phone-metadata.py

The output is committed; the pin below must match the installed package, so a regeneration
never silently mixes versions. Every regular expression is checked against the small syntax
Hush's matcher (DigitPattern.swift) reads, so a metadata release that starts using more fails
here instead of at run time.
"""

import os
import re._parser as sre
import sys

import phonenumbers
from phonenumbers import PhoneMetadata, COUNTRY_CODE_TO_REGION_CODE

PINNED = "9.0.43"
OUTPUT = os.path.join(os.path.dirname(__file__), "..", "Sources", "HushCore", "Addresses",
                      "PhoneMetadata+Generated.swift")

# The number types a national number can be valid as (libphonenumber's PhoneNumberType).
TYPES = ["fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
         "voip", "pager", "uan", "voicemail"]


def check_syntax(pattern):
    """Refuses any regular-expression feature DigitPattern does not implement."""
    allowed = {"LITERAL", "IN", "MAX_REPEAT", "BRANCH", "SUBPATTERN", "AT"}

    def walk(tree):
        for op, av in tree:
            name = str(op)
            if name not in allowed:
                sys.exit(f"unsupported regular expression feature {name} in {pattern!r}")
            if name == "LITERAL" and chr(av) not in "0123456789":
                sys.exit(f"non-digit literal {chr(av)!r} in {pattern!r}")
            if name == "AT" and str(av) != "AT_END":
                sys.exit(f"unsupported anchor {av} in {pattern!r}")
            if name == "IN":
                for item, value in av:
                    if str(item) not in ("LITERAL", "RANGE", "CATEGORY"):
                        sys.exit(f"unsupported class item {item} in {pattern!r}")
                    if str(item) == "CATEGORY" and str(value) != "CATEGORY_DIGIT":
                        sys.exit(f"unsupported class {value} in {pattern!r}")
                    if str(item) == "LITERAL" and chr(value) not in "0123456789":
                        sys.exit(f"non-digit {chr(value)!r} in a class in {pattern!r}")
                    if str(item) == "RANGE" and not all(chr(v) in "0123456789" for v in value):
                        sys.exit(f"non-digit range in a class in {pattern!r}")
            if name == "MAX_REPEAT":
                # Unbounded repeats (`*`, `+`): the matcher would need checking against Python's
                # captures for loops that can match nothing; the metadata has none.
                if av[1] == sre.MAXREPEAT:
                    sys.exit(f"unbounded repeat in {pattern!r}")
                walk(av[2])
            elif name == "SUBPATTERN":
                if av[1] or av[2]:
                    sys.exit(f"unsupported group flags in {pattern!r}")
                walk(av[3])
            elif name == "BRANCH":
                for branch in av[1]:
                    walk(branch)

    walk(sre.parse(pattern))
    return pattern


def swift_string(value):
    if value is None or value == "":
        return "nil"
    return '"' + check_syntax(value).replace("\\", "\\\\") + '"'


def swift_rule(value, pattern):
    if not value:
        return "nil"
    if not all(c in "0123456789\\" for c in value):
        sys.exit(f"unsupported transform rule {value!r}")
    groups = sre.parse(pattern).state.groups - 1
    references = [int(value[i + 1]) for i, c in enumerate(value) if c == "\\"]
    if any(ref < 1 or ref > groups for ref in references):
        sys.exit(f"transform rule {value!r} names a group {pattern!r} does not have")
    return '"' + value.replace("\\", "\\\\") + '"'


def lengths(values):
    return "[" + ", ".join(str(value) for value in sorted(set(values)) if value > 0) + "]"


def length_result(length, metadata):
    """libphonenumber's _test_number_length for the general description: is `length` possible?"""
    general = metadata.general_desc
    if length in (general.possible_length_local_only or ()):
        return False
    return length in (general.possible_length or ())


def entry(metadata, key):
    general = metadata.general_desc
    rule = swift_rule(metadata.national_prefix_transform_rule, metadata.national_prefix_for_parsing or "")
    return (
        f"        .init(\n"
        f"            id: \"{key}\", countryCode: {metadata.country_code},\n"
        f"            internationalPrefix: {swift_string(metadata.international_prefix)},\n"
        f"            nationalPrefixForParsing: {swift_string(metadata.national_prefix_for_parsing)},\n"
        f"            nationalPrefixTransformRule: {rule},\n"
        f"            nationalNumber: {swift_string(general.national_number_pattern)},\n"
        f"            possibleLengths: {lengths(general.possible_length or ())},\n"
        f"            localOnlyLengths: {lengths(general.possible_length_local_only or ())}),\n"
    )


def typed_lengths(main, regions):
    """Number types, in any region sharing the calling code, valid at a length the main region
    does not call possible (Canada's 310-xxxx UAN numbers under +1, whose main region is the US):
    libphonenumber calls such numbers valid, so Hush reads them."""
    found = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        for name in TYPES:
            desc = getattr(metadata, name)
            if desc is None or not desc.national_number_pattern:
                continue
            extra = [n for n in (desc.possible_length or ()) if n > 0 and not length_result(n, main)]
            if extra:
                found.append((region, name, extra, desc.national_number_pattern))
    return found


def main():
    if phonenumbers.__version__ != PINNED:
        sys.exit(f"phonenumbers {phonenumbers.__version__} is installed; this script is pinned to {PINNED}")
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    nongeographic = sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    out = [
        f"// Generated by scripts/generate-phone-metadata.py from libphonenumber's metadata as\n"
        f"// published in the phonenumbers {PINNED} package. Do not edit; regenerate.\n\n"
        f"extension PhoneMetadata {{\n"
        f"    /// The libphonenumber metadata release these tables come from.\n"
        f"    public static let version = \"{PINNED}\"\n\n"
        f"    /// Every region's numbering plan ({len(regions)} regions), then the {len(nongeographic)}\n"
        f"    /// non-geographic calling codes (keyed \"001\"), from each one's general description.\n"
        f"    static let sources: [Source] = [\n"
    ]
    for region in regions:
        out.append(entry(PhoneMetadata.metadata_for_region(region), region))
    for code in nongeographic:
        out.append(entry(PhoneMetadata.metadata_for_nongeo_region(code), "001"))
    out.append("    ]\n\n")
    out.append("    /// Each calling code's regions, its main region (the one whose plan reads numbers\n"
               "    /// written with that code) first.\n")
    out.append("    static let regionsByCallingCode: [Int: [String]] = [\n")
    for code in sorted(COUNTRY_CODE_TO_REGION_CODE):
        names = ", ".join(f'"{r}"' for r in COUNTRY_CODE_TO_REGION_CODE[code])
        out.append(f"        {code}: [{names}],\n")
    out.append("    ]\n\n")
    out.append("    /// Number types valid at lengths their calling code's main region does not call\n"
               "    /// possible: (calling code, lengths, national number pattern).\n")
    out.append("    static let typedSources: [TypedSource] = [\n")
    for code in sorted(COUNTRY_CODE_TO_REGION_CODE):
        members = COUNTRY_CODE_TO_REGION_CODE[code]
        if members == ("001",):
            continue
        main_metadata = PhoneMetadata.metadata_for_region(members[0])
        for region, name, extra, pattern in typed_lengths(main_metadata, members):
            out.append(f"        .init(countryCode: {code}, lengths: {lengths(extra)}, "
                       f"nationalNumber: {swift_string(pattern)}),  // {region} {name}\n")
    out.append("    ]\n}\n")
    with open(OUTPUT, "w") as handle:
        handle.write("".join(out))
    print(f"wrote {os.path.normpath(OUTPUT)}: {len(regions)} regions, {len(nongeographic)} non-geographic codes, "
          f"metadata {PINNED}")


if __name__ == "__main__":
    main()
