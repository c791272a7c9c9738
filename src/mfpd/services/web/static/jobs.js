// The Jobs pages, live: a job's record from the event stream updates its row (or the details
// page), adds a row for a new job, and moves a finished one to "Completed jobs".
"use strict";

(function () {
  const admin = document.body.dataset.admin === "true";
  const TERMINAL = ["completed", "canceled", "aborted"];
  const labels = window.mfpd.labels;

  function capitalize(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  // The same rule as pages_jobs.job_flags.
  function flags(job) {
    const terminal = TERMINAL.includes(job.state);
    return {
      cancel: admin && !terminal && job.kind !== "fax-send",
      hold: admin && job.state === "pending",
      release: job.state === "held" && (admin || job.secure),
      passcode: job.state === "held" && job.secure,
    };
  }

  function reasonsText(job) {
    // A reason that only repeats the state (job-completed-successfully) is left out.
    return job.state_reasons.map(window.mfpd.reasonText)
      .filter((text, i) => job.state_reasons[i] !== "none" && text !== capitalize(job.state))
      .join(", ");
  }

  function field(root, name) {
    return root.querySelectorAll('[data-f="' + name + '"]');
  }

  function setText(root, name, text) {
    field(root, name).forEach((e) => { e.textContent = text; });
  }

  function fill(root, job) {
    setText(root, "id", String(job.id));
    setText(root, "name", job.name || "(untitled)");
    setText(root, "user", job.user);
    setText(root, "source", (labels.sources || {})[job.source] || job.source.toUpperCase());
    setText(root, "format", job.format ? ((labels.formats || {})[job.format] || job.format) : "—");
    setText(root, "pages", job.pages === null ? "—" : String(job.pages));
    setText(root, "copies", String(job.copies));
    setText(root, "impressions", job.impressions === null ? "—" : String(job.impressions));
    setText(root, "impressions_completed", String(job.impressions_completed));
    setText(root, "sheets_completed", String(job.sheets_completed));
    setText(root, "message", job.state_message || "—");
    const reasons = reasonsText(job);
    field(root, "reasons").forEach((e) => {
      e.textContent = reasons || (e.tagName === "DD" ? "—" : "");
    });
    field(root, "state").forEach((e) => {
      e.className = e.className.split(" ").filter((c) => !c.startsWith("job-")).join(" ") + " job-" + job.state;
      e.textContent = capitalize(job.state);
    });
    field(root, "secure").forEach((e) => { e.hidden = !job.secure; });
    field(root, "kind").forEach((e) => { e.hidden = job.kind !== "scan"; });
    field(root, "thumb").forEach((img) => {
      img.hidden = !job.thumbnail;
      // Asked again as images come: the first one becomes the thumbnail.
      const src = job.thumbnail ? job.thumbnail + "?n=" + Math.min(job.pages || 0, 1) : "";
      if (src && img.getAttribute("src") !== src) { img.src = src; }
    });
    field(root, "bytes").forEach((e) => { e.textContent = sizeText(job.bytes); });
    field(root, "created").forEach((e) => window.mfpd.setTime(e, job.created_at));
    field(root, "processing").forEach((e) => window.mfpd.setTime(e, job.processing_at));
    field(root, "completed").forEach((e) => window.mfpd.setTime(e, job.completed_at));
    root.querySelectorAll("[data-job-link]").forEach((a) => { a.href = "/jobs/" + job.id; });

    const can = flags(job);
    for (const action of ["release", "hold", "cancel"]) {
      field(root, action + "-form").forEach((form) => {
        form.action = "/jobs/" + job.id + "/" + action;
        form.hidden = !can[action];
        if (action === "cancel") {
          form.dataset.confirm = "Cancel job " + job.id + "? A canceled job cannot be printed again.";
        }
      });
    }
    field(root, "passcode").forEach((input) => {
      input.id = "passcode-" + job.id;
      input.hidden = !can.passcode;
      input.disabled = !can.passcode;
    });
    field(root, "passcode-label").forEach((label) => {
      label.htmlFor = "passcode-" + job.id;
      label.textContent = "Passcode for job " + job.id;
    });
  }

  function sizeText(count) {
    let value = count;
    for (const unit of ["bytes", "KB", "MB", "GB"]) {
      if (value < 1024 || unit === "GB") {
        return unit === "bytes" ? Math.floor(value) + " bytes" : value.toFixed(1) + " " + unit;
      }
      value /= 1024;
    }
    return count + " bytes";
  }

  function refreshCounts() {
    for (const id of ["active-jobs", "completed-jobs"]) {
      const table = document.getElementById(id);
      if (!table) continue;
      const n = table.tBodies[0].rows.length;
      document.querySelector('[data-count="' + id + '"]').textContent = String(n);
      document.querySelector('[data-empty="' + id + '"]').hidden = n > 0;
      document.querySelector('[data-wrap="' + id + '"]').hidden = n === 0;
    }
  }

  function onListPage(job) {
    const active = document.getElementById("active-jobs");
    const completed = document.getElementById("completed-jobs");
    const template = document.getElementById("job-row-template");
    if (!active || !completed || !template) return;
    let row = document.querySelector('tr[data-job-id="' + job.id + '"]');
    const isNew = !row;
    if (isNew) {
      row = template.content.querySelector("tr").cloneNode(true);
      row.dataset.jobId = String(job.id);
    }
    const passcode = row.querySelector('[data-f="passcode"]');
    const typing = passcode && document.activeElement === passcode;
    fill(row, job);
    const target = TERMINAL.includes(job.state) ? completed : active;
    if (isNew || row.closest("table") !== target) {
      target.tBodies[0].prepend(row);
      row.classList.remove("flash-row");
      void row.offsetWidth; // restart the highlight animation
      row.classList.add("flash-row");
    }
    if (typing) passcode.focus();
    refreshCounts();
  }

  // The job page's preview: a placeholder when the API has none (it answers 422), and
  // none at all for a secure-print job until it is released.
  const preview = document.querySelector("img[data-preview]");

  function showPreview(job) {
    if (!preview) return;
    const locked = document.getElementById("preview-locked");
    const none = document.getElementById("preview-placeholder");
    if (job.secure) return;
    locked.hidden = true;
    if (!preview.getAttribute("src")) {
      preview.hidden = false;
      preview.src = preview.dataset.src;
    } else if (!none.hidden && TERMINAL.includes(job.state)) {
      // A document still arriving had no preview yet; now it is whole, try once more.
      none.hidden = true;
      preview.hidden = false;
      preview.src = preview.dataset.src + "?done=1";
    }
  }

  if (preview) {
    const fallback = () => {
      preview.hidden = true;
      document.getElementById("preview-placeholder").hidden = false;
    };
    preview.addEventListener("error", fallback);
    if (preview.getAttribute("src") && preview.complete && preview.naturalWidth === 0) fallback();
  }

  function onDetailPage(job) {
    const article = document.querySelector('article[data-job-id="' + job.id + '"]');
    if (!article) return;
    fill(article, job);
    showPreview(job);
  }

  document.addEventListener("mfpd:job", (e) => {
    onListPage(e.detail);
    onDetailPage(e.detail);
  });
})();
