// The address-book picker of recipient fields (templates/_address_book.html): as the user
// types, the directory's matches fill the field's datalist; the field works without this.
"use strict";

(function () {
  const WAIT_MS = 250;  // a search per pause in typing, not per key
  const MIN_CHARS = 2;

  function attach(input) {
    const list = document.getElementById(input.getAttribute("list"));
    const status = input.parentElement.querySelector("[data-address-book-status]");
    const kind = input.dataset.addressBook === "fax" ? "fax" : "email";
    let timer = null;
    let asked = "";

    function say(text) {
      if (status) status.textContent = text;
    }

    async function search(text) {
      asked = text;
      let answer;
      try {
        answer = await fetch("/api/v1/address-book?q=" + encodeURIComponent(text), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
      } catch (error) {
        say("The address book cannot be reached.");
        return;
      }
      if (text !== asked) return;  // a later search is under way
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok) {
        say(body.error || "The address book does not answer (" + answer.status + ").");
        return;
      }
      list.replaceChildren();
      const entries = (body.entries || []).filter((e) => e[kind]);
      for (const entry of entries) {
        const option = document.createElement("option");
        option.value = entry[kind];
        option.label = entry.name + " <" + entry[kind] + ">";
        option.textContent = option.label;
        list.append(option);
      }
      say(entries.length ? entries.length + " in the address book" + (body.truncated ? " (more: type more)" : "")
                         : "Nobody in the address book matches.");
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      const text = input.value.trim();
      if (text.length < MIN_CHARS || text.includes("@") && list.querySelector("option[value='" + CSS.escape(text) + "']")) return;
      timer = setTimeout(() => search(text), WAIT_MS);
    });
  }

  document.querySelectorAll("input[data-address-book]").forEach(attach);
})();
