/* The agenda's patient picker ("Add a case" on /meetings/<id>/).
 *
 * Typing part of an MRN or one or more name words in "Patient: MRN or name" asks
 * POST /meetings/<id>/patients/ (q=…, in the body: never in a URL) for the matching patients
 * and shows them as a list box under
 * the box: ↓ ↑ move through them, Enter picks one (its id goes in the hidden "patient" field, the
 * box names it and the cursor goes on to the question), Esc closes the list; the mouse picks too.
 * A patient already on the agenda is shown as such and cannot be picked. Enter with no patient
 * highlighted submits the form as typed: an exact MRN is added at once, other text lists the
 * matches on the page with an Add button each — which is also how the form works without this
 * script. Patient data is only in the answer's body; nothing typed is kept or logged here.
 */
(() => {
  "use strict";
  const form = document.getElementById("add-case-form");
  if (!form || !window.fetch) return;
  const input = form.querySelector("input[name=mrn]");
  const chosen = form.querySelector("input[name=patient]");
  const question = form.querySelector("textarea[name=question]");
  const list = document.getElementById("add-picker-list");
  const status = document.getElementById("add-picker-status");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const url = form.dataset.pickerUrl;
  if (!input || !chosen || !list || !status || !url) return;

  let results = [];
  let active = -1;
  let timer = 0;
  let asked = 0; // the number of the latest request: answers to older ones are dropped

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  const help = document.getElementById(input.id + "_helptext");
  if (help) help.append(" Choose a match with ↓ ↑ and Enter, or with the mouse.");

  const label = (patient) => patient.mrn + " · " + patient.name;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    results = [];
    active = -1;
  }

  function option(patient, index) {
    const item = document.createElement("li");
    item.id = "pick-" + patient.id;
    item.className = "picker-option";
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", "false");
    item.dataset.index = String(index);
    if (patient.listed) item.setAttribute("aria-disabled", "true");
    const parts = [
      ["picker-mrn", patient.mrn],
      ["picker-name", patient.name],
      ["picker-dob", patient.birth_date ? "born " + patient.birth_date : "date of birth not recorded"],
    ];
    if (patient.listed) parts.push(["picker-listed", "already on the agenda"]);
    for (const [className, text] of parts) {
      const span = document.createElement("span");
      span.className = className;
      span.textContent = text;
      item.append(span);
    }
    return item;
  }

  function show(data) {
    results = data.results || [];
    active = -1;
    list.replaceChildren(...results.map(option));
    const open = results.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    input.removeAttribute("aria-activedescendant");
    if (!open) {
      status.textContent = "No patient matches.";
    } else if (data.more) {
      status.textContent = `More than ${results.length} patients match: type more to narrow the list.`;
    } else {
      status.textContent = results.length === 1 ? "1 patient matches." : `${results.length} patients match.`;
    }
  }

  function highlight(index) {
    const items = list.querySelectorAll("[role=option]");
    items.forEach((item, i) => {
      const on = i === index;
      item.classList.toggle("active", on);
      item.setAttribute("aria-selected", String(on));
    });
    active = index;
    if (index >= 0 && items[index]) {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function pick(index) {
    const patient = results[index];
    if (!patient) return;
    if (patient.listed) {
      status.textContent = `${label(patient)} is already on the agenda of this meeting: a patient is listed once.`;
      return;
    }
    chosen.value = String(patient.id);
    input.value = label(patient);
    close();
    status.textContent = `Chosen: ${label(patient)}. Now the question for the board.`;
    if (question) question.focus();
  }

  function search() {
    const text = input.value.trim();
    if (!text) {
      close();
      status.textContent = "";
      return;
    }
    const number = ++asked;
    const body = new URLSearchParams({ q: text });
    fetch(url, {
      method: "POST",
      body,
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
      credentials: "same-origin",
    })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then((data) => {
        if (number === asked && document.activeElement === input) show(data);
      })
      .catch(() => {
        if (number === asked) {
          status.textContent = "The matches could not be loaded: submit the form to see them.";
        }
      });
  }

  input.addEventListener("input", () => {
    chosen.value = ""; // the box changed: it no longer names the patient picked
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 200);
  });

  input.addEventListener("keydown", (event) => {
    const open = !list.hidden && results.length > 0;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!open) {
          window.clearTimeout(timer);
          search();
        } else {
          highlight(Math.min(active + 1, results.length - 1));
        }
        break;
      case "ArrowUp":
        if (open) {
          event.preventDefault();
          highlight(Math.max(active - 1, 0));
        }
        break;
      case "Enter":
        if (open && active >= 0) {
          event.preventDefault(); // pick; Enter with nothing highlighted submits as typed
          pick(active);
        }
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          close();
        }
        break;
      default:
        break;
    }
  });

  input.addEventListener("blur", () => {
    window.clearTimeout(timer);
    close();
  });
  // A click on the list must not take the focus from the box (which would close the list).
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const item = event.target.closest("[role=option]");
    if (item) pick(Number(item.dataset.index));
  });
})();
