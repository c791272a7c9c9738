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
      // Nothing to ask for one letter, nor for an address just picked from the list.
      const picked = list.querySelector("option[value='" + CSS.escape(text) + "']");
      if (text.length < MIN_CHARS || picked) return;
      timer = setTimeout(() => search(text), WAIT_MS);
    });
  }

  // A picker that feeds a list (a textarea, one recipient per line): Add appends the
  // picked address with its prefix (mailto:), once, and clears the field for the next.
  function attachAdd(button) {
    const input = button.parentElement.querySelector("input[data-address-book]");
    const target = document.getElementById(button.dataset.addressBookAdd);
    if (!input || !target) return;
    function add() {
      const value = input.value.trim();
      if (!value) return;
      const line = (button.dataset.prefix || "") + value;
      const lines = target.value.split("\n").map((l) => l.trim()).filter((l) => l);
      if (!lines.includes(line)) lines.push(line);
      target.value = lines.join("\n");
      target.dispatchEvent(new Event("input", { bubbles: true }));
      input.value = "";
      input.focus();
    }
    button.addEventListener("click", add);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();  // Enter adds, not submits the template form
        add();
      }
    });
  }

  document.querySelectorAll("input[data-address-book]").forEach(attach);
  document.querySelectorAll("[data-address-book-add]").forEach(attachAdd);
})();
