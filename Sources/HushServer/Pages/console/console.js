// The console works without this file; with it, a large paste or CSV is added in batches with a
// progress bar, and the preference-page preview follows the branding fields as they are typed.
"use strict";

const batchSize = 10000;

function lines(text) {
  const all = text.split(/\r?\n/).map((line) => line.split(",")[0].trim().replace(/^["']|["']$/g, "")).filter((line) => line.length > 0);
  if (all.length > 0 && ["address", "email", "phone", "mobile", "recipient"].includes(all[0].toLowerCase())) all.shift();
  return all;
}

async function addInBatches(form) {
  const fileInput = form.querySelector("input[type=file]");
  const file = fileInput && fileInput.files && fileInput.files[0];
  const pasted = form.querySelector("textarea[name=paste]").value;
  const text = pasted + "\n" + (file ? await file.text() : "");
  const addresses = lines(text);
  if (addresses.length <= batchSize) { form.submit(); return; } // one post does it, as without this file
  const progress = form.querySelector("progress") || form.appendChild(document.createElement("progress"));
  const status = form.querySelector("output") || form.appendChild(document.createElement("output"));
  progress.max = addresses.length;
  progress.value = 0;
  let added = 0, already = 0;
  const problems = [];
  for (let start = 0; start < addresses.length; start += batchSize) {
    const body = new FormData();
    body.set("_csrf", form.querySelector("input[name=_csrf]").value);
    body.set("paste", addresses.slice(start, start + batchSize).join("\n"));
    body.set("channel", form.querySelector("select[name=channel]").value);
    body.set("scope", form.querySelector("input[name=scope]").value);
    const answer = await fetch(form.action, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
    const result = await answer.json();
    added += result.added || 0;
    already += (result.already || []).length;
    problems.push(...(result.problems || []));
    progress.value = Math.min(addresses.length, start + batchSize);
    status.textContent = ` ${progress.value} of ${addresses.length} sent; ${added} added, ${already} already on the list` +
      (problems.length ? `; ${problems.length} refused: ${problems.slice(0, 5).join("; ")}` : "");
  }
  const done = document.createElement("a");
  done.href = form.action.replace(/\/add$/, "");
  done.textContent = " Done: show the entries";
  status.after(done);
}

function previewFollowsBranding() {
  const frame = document.querySelector("iframe.preview");
  if (!frame) return;
  const fields = ["brand_name", "brand_logo_url", "brand_color"].map((name) => document.querySelector(`input[name=${name}]`));
  let timer;
  const update = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const query = new URLSearchParams();
      for (const field of fields) if (field && field.value) query.set(field.name, field.value);
      frame.src = "/console/settings/preview?" + query.toString();
    }, 300);
  };
  for (const field of fields) if (field) field.addEventListener("input", update);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-batches]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (form.dataset.sending) return;
      form.dataset.sending = "1";
      addInBatches(form).finally(() => { delete form.dataset.sending; });
    });
  }
  previewFollowsBranding();
});
