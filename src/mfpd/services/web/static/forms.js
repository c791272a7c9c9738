// Small improvements over plain forms, which all work without this script: confirmations,
// operator actions sent to the API without leaving the page, copying a new token, and the
// Print page's drop zone.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');

  function toast(text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "toast" + (kind === "error" ? " error" : "");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = text;
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  // A confirmation before what cannot be undone (cancel a job, revoke a token).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Operator actions go to /api/v1/actions with the page's CSRF token; the status stream
  // then shows their effect, so the page stays where it is.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (form.dataset.api !== "action" || !csrfMeta || !window.fetch) return;
    event.preventDefault();
    const data = new FormData(form, event.submitter || undefined);
    // The API takes only what an action uses: an empty choice ("Default") is left out.
    const body = { action: String(data.get("action") || "") };
    for (const key of ["kind", "target"]) {
      const value = String(data.get(key) || "");
      if (value) body[key] = value;
    }
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch("/api/v1/actions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfMeta.content },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        const message = answer.message || "Done";
        toast(message.charAt(0).toUpperCase() + message.slice(1) + ".");
        const paused = document.querySelectorAll('[data-bind="paused"]');
        if (answer.status) paused.forEach((e) => { e.textContent = answer.status.paused ? "Paused" : "Printing normally"; });
      } else {
        toast(answer.error || "Refused (" + response.status + ")", "error");
      }
    } catch (err) {
      toast("The printer did not answer: " + err.message, "error");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch (err) {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Press Ctrl+C";
    }
  });

  const zone = document.querySelector("[data-dropzone]");
  if (zone) {
    const input = zone.querySelector('input[type="file"]');
    const hint = zone.querySelector("[data-file-name]");
    const original = hint ? hint.textContent : "";
    const show = () => {
      const file = input.files && input.files[0];
      zone.classList.toggle("chosen", Boolean(file));
      if (hint) hint.textContent = file ? file.name + " · " + Math.max(1, Math.round(file.size / 1024)) + " KB" : original;
    };
    input.addEventListener("change", show);
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        show();
      }
    });
    const form = zone.closest("form");
    form.addEventListener("submit", () => {
      const button = form.querySelector('button[type="submit"]');
      if (button) { button.classList.add("busy"); button.textContent = "Sending…"; }
    });
  }
})();
