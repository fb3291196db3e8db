/* The study grid: keyboard-first lesion score entry that saves itself.
 *
 * Each row is one lesion on this study. A row saves through the REST API when the reader leaves
 * a changed cell (PATCH with If-Match when the observation exists, POST with an Idempotency-Key
 * when it does not). While typing, the row is sent to the preview endpoint, which answers the
 * computed score, the flags and any refused value without writing. Nothing typed is ever
 * replaced by the server: a refused value stays in its cell, marked, with the message; a
 * conflicting edit by someone else is shown beside the row with both versions and the reader
 * chooses. Leaving the page with unsaved rows asks first.
 */
(function () {
  "use strict";

  const configNode = document.getElementById("grid-config");
  const table = document.getElementById("read-grid");
  if (!configNode || !table) return;
  const config = JSON.parse(configNode.textContent);
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const body = table.tBodies[0];
  const statusLine = document.getElementById("grid-status");
  const FIELDS = ["state", "suv_max", "suv_peak", "krenning_visual", "fdg_visual", "fdg_vs_sstr",
    "long_axis_mm", "short_axis_mm", "heterogeneous", "target"];
  const LABELS = {state: "State", suv_max: "SUVmax", suv_peak: "SUVpeak",
    krenning_visual: config.score_label || "Krenning", fdg_visual: "FDG +/−",
    fdg_vs_sstr: "vs SSTR", long_axis_mm: "Long axis", short_axis_mm: "Short axis",
    heterogeneous: "Heterogeneous", target: "Target"};

  const state = {}; // lesion id -> {observation, etag, dirty, saving, again, key, keyBody, copied}
  for (const [lesion, row] of Object.entries(config.rows)) {
    state[lesion] = {observation: row.observation, etag: row.etag, dirty: false};
  }

  // ---- reading and writing a row -------------------------------------------------------
  function rows() { return Array.from(body.querySelectorAll("tr.obs-row")); }
  function cellsOf(row) { return Array.from(row.querySelectorAll("[data-cell]")); }
  function lesionOf(row) { return row.dataset.lesion; }

  function valuesOf(row) {
    const values = {};
    for (const input of row.querySelectorAll("[name]")) {
      if (!FIELDS.includes(input.name)) continue;
      if (input.type === "checkbox") values[input.name] = input.checked;
      else {
        const text = input.value.trim().replace(",", ".");
        values[input.name] = text === "" ? null : text;
      }
    }
    if (values.krenning_visual !== undefined && values.krenning_visual !== null
        && /^\d$/.test(values.krenning_visual)) {
      values.krenning_visual = Number(values.krenning_visual);
    }
    return values;
  }

  function setValues(row, values) {
    for (const input of row.querySelectorAll("[name]")) {
      if (!(input.name in values)) continue;
      const value = values[input.name];
      if (input.type === "checkbox") input.checked = Boolean(value);
      else input.value = value === null || value === undefined ? "" : String(value);
    }
  }

  function say(text) { if (statusLine) statusLine.textContent = text; }

  function setRowStatus(row, text, kind) {
    const cell = row.querySelector(".row-status");
    let label = cell.querySelector(".status-text");
    if (!label) {
      cell.querySelectorAll(".saved, .muted").forEach((node) => node.remove());
      label = document.createElement("span");
      label.className = "status-text";
      cell.prepend(label);
    }
    label.textContent = text;
    label.dataset.kind = kind;
    row.dataset.status = kind;
    updateCount();
  }

  function clearErrors(row) {
    row.querySelectorAll("[data-error]").forEach((node) => { node.textContent = ""; });
    row.querySelectorAll("[aria-invalid]").forEach((node) => {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-describedby");
    });
  }

  function showErrors(row, errors) {
    clearErrors(row);
    const lesion = lesionOf(row);
    let first = null;
    for (const [field, messages] of Object.entries(errors || {})) {
      const text = [].concat(messages).join(" ");
      const input = row.querySelector(`[name="${field}"]`);
      const slot = row.querySelector(`[data-error="${field}"]`)
        || row.querySelector('[data-error="non_field_errors"]');
      if (slot) {
        slot.textContent = input ? text : `${LABELS[field] || field}: ${text}`;
        slot.id = `err-${lesion}-${field}`;
      }
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", slot ? slot.id : "");
        first = first || input;
      }
    }
    return first;
  }

  function showUptake(row, data) {
    const computed = row.querySelector(".computed-score");
    if (!computed) return;
    computed.textContent = data.computed === null || data.computed === undefined
      ? "–" : String(data.computed);
    const flags = row.querySelector(".flags");
    flags.textContent = "";
    for (const flag of data.flags || []) {
      const badge = document.createElement("span");
      badge.className = `flag flag-${flag.code}`;
      badge.title = flag.text;
      badge.textContent = flag.short;
      flags.appendChild(badge);
    }
  }

  // The lesion's phenotype and the computed FDG-vs-SSTR comparison, from the row as typed and the
  // partner study's read (the preview's "pairing", apps/imaging/paired.py).
  function showPairing(row, pairing) {
    const cell = row.querySelector(".phenotype-cell");
    if (cell && pairing !== undefined) {
      cell.textContent = "";
      const wrap = document.createElement("span");
      wrap.className = "phenotype";
      const p = pairing && pairing.phenotype;
      if (p) {
        const tag = document.createElement("span");
        tag.className = `pheno pheno-${p.code}`;
        tag.title = `${p.text} (NETPET ${pairing.pattern})`;
        const glyph = document.createElement("span");
        glyph.setAttribute("aria-hidden", "true");
        glyph.textContent = p.glyph;
        const pattern = document.createElement("span");
        pattern.className = "muted small";
        pattern.textContent = pairing.pattern;
        tag.append(glyph, ` ${p.label} `, pattern);
        wrap.appendChild(tag);
      } else {
        const none = document.createElement("span");
        none.className = "muted";
        none.title = "Needs a score on both studies";
        none.textContent = "–";
        wrap.appendChild(none);
      }
      cell.appendChild(wrap);
    }
    const blank = row.querySelector("option.vs-computed");
    if (blank) {
      const computed = pairing && pairing.comparison_source === "computed";
      blank.textContent = computed ? `${pairing.comparison} · computed` : "–";
      blank.closest("select").classList.toggle("shows-computed", Boolean(computed));
    }
  }

  // A row whose last save was refused (or is in conflict) is incomplete: what is stored for it,
  // if anything, is not what the reader typed, so it is not counted as recorded.
  function incomplete(row) { return ["error", "conflict"].includes(row.dataset.status); }

  function updateCount() {
    const list = rows();
    const open = list.filter(incomplete).length;
    const recorded = list.filter((row) => state[lesionOf(row)]
      && state[lesionOf(row)].observation && !incomplete(row)).length;
    const counter = document.getElementById("read-count");
    if (counter) {
      const total = list.length;
      counter.textContent = `${recorded} of ${total} lesion${total === 1 ? "" : "s"} recorded`
        + (open ? `, ${open} incomplete` : "");
    }
  }

  // ---- talking to the server -------------------------------------------------------------
  async function call(method, url, payload, headers) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: Object.assign({"Content-Type": "application/json", "Accept": "application/json",
        "X-CSRFToken": csrf}, headers || {}),
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let data = null;
    const text = await response.text();
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    return {status: response.status, data, etag: response.headers.get("ETag"),
      retryAfter: Number(response.headers.get("Retry-After")) || 0};
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  const previewTimers = {};
  function schedulePreview(row) {
    const lesion = lesionOf(row);
    clearTimeout(previewTimers[lesion]);
    previewTimers[lesion] = setTimeout(() => preview(row), 180);
  }

  async function preview(row) {
    if (!config.urls.preview || config.kind === "ANATOMIC") return;
    const values = valuesOf(row);
    let answer;
    try {
      answer = await call("POST", config.urls.preview,
        Object.assign({lesion: Number(lesionOf(row))}, values));
    } catch (_) { return; }  // the save reports connection problems
    if (answer.status !== 200 || !answer.data) return;
    // Only if the row still holds what was previewed.
    if (JSON.stringify(valuesOf(row)) !== JSON.stringify(values)) return;
    showErrors(row, answer.data.errors);
    const refused = Object.keys(answer.data.errors || {}).length > 0;
    if (refused) setRowStatus(row, "not saved: see the marked cell", "error");
    else if (row.dataset.status === "error" && state[lesionOf(row)].dirty && !state[lesionOf(row)].saving) {
      setRowStatus(row, state[lesionOf(row)].observation ? "not saved yet"
        : "not saved yet: saves when you leave the row", "dirty");
    }
    if (!refused) {
      showUptake(row, answer.data);
      showPairing(row, answer.data.pairing);
    }
  }

  const saveTimers = {};
  function scheduleSave(row) {
    const lesion = lesionOf(row);
    state[lesion].dirty = true;
    setRowStatus(row, "not saved yet", "dirty");
    clearTimeout(saveTimers[lesion]);
    saveTimers[lesion] = setTimeout(() => save(row), 60);
  }

  async function save(row) {
    const lesion = lesionOf(row);
    const s = state[lesion];
    if (s.saving) { s.again = true; return; }
    if (!s.dirty) return;
    s.saving = true;
    s.again = false;
    const values = valuesOf(row);
    setRowStatus(row, "saving…", "saving");
    let answer;
    try {
      if (s.observation) {
        answer = await call("PATCH", `${config.urls.observations}${s.observation}/`, values,
          {"If-Match": s.etag});
      } else {
        const payload = Object.assign({study: config.study, lesion: Number(lesion)}, values);
        const fingerprint = JSON.stringify(payload);
        if (s.keyBody !== fingerprint) { s.key = uuid(); s.keyBody = fingerprint; }
        answer = await call("POST", config.urls.observations, payload, {"Idempotency-Key": s.key});
      }
    } catch (_) {
      s.saving = false;
      setRowStatus(row, "not saved: no connection, retrying…", "error");
      say("Connection lost: your entries are kept and will be saved when it is back.");
      setTimeout(() => save(row), 3000);
      return;
    }
    s.saving = false;
    const changedMeanwhile = JSON.stringify(valuesOf(row)) !== JSON.stringify(values);
    if (answer.status === 200 || answer.status === 201) {
      s.observation = answer.data.id;
      s.etag = answer.etag || s.etag;
      s.key = null;
      s.keyBody = null;
      s.copied = false;
      row.classList.remove("unrecorded", "copied", "conflicted");
      showErrors(row, {});
      showUptake(row, answer.data);
      updateCount();
      if (changedMeanwhile || s.again) { s.dirty = true; save(row); return; }
      s.dirty = false;
      setRowStatus(row, "saved", "saved");
      say(`Saved ${row.querySelector(".lesion-name").textContent}.`);
      updateCopyButton();
      return;
    }
    if (answer.status === 412) { await conflict(row, values); return; }
    if ([429, 502, 503, 504].includes(answer.status)) {
      // The server is briefly unavailable (the database restarting, say): nothing was written;
      // send the same row again when it says to (same Idempotency-Key for a new row).
      setRowStatus(row, "not saved: server busy, retrying…", "error");
      say("The server is briefly unavailable: your entries are kept and will be saved when it is back.");
      setTimeout(() => save(row), 1000 * Math.max(1, answer.retryAfter || 3));
      return;
    }
    const errors = (answer.data && answer.data.errors) || {};
    if (answer.status === 400 && !s.observation && isUniqueClash(errors)) {
      // Someone else recorded this lesion on this study meanwhile: show theirs beside ours.
      const found = await call("GET",
        `${config.urls.observations}?study=${config.study}&lesion=${lesion}`);
      const theirs = found.data && found.data.results && found.data.results[0];
      if (theirs) { s.observation = theirs.id; s.etag = ""; await conflict(row, values); return; }
    }
    const detail = (answer.data && answer.data.detail) || `the server answered ${answer.status}`;
    showErrors(row, Object.keys(errors).length ? errors : {non_field_errors: [detail]});
    setRowStatus(row, "not saved: see the marked cell", "error");
    say(`Not saved: ${row.querySelector(".lesion-name").textContent} has a value to correct.`);
    // Typed while this was refused: the row as it is now may be whole; nothing is dropped.
    if (changedMeanwhile) { save(row); return; }
    // The cursor stays where the reader is: a refusal arrives after they may have moved on and
    // typed again, and pulling the cursor back put their next keys in the refused row. The row
    // is marked and said aloud; "Finish read" names it and takes the reader there.
  }

  function isUniqueClash(errors) {
    // The serializer's check says "unique"; when two readers post at the same instant, the
    // database's rule refuses the second and the message names the rule.
    return [].concat(errors.non_field_errors || [])
      .some((m) => /unique|observation_one_per_lesion/i.test(m));
  }

  // ---- conflicts -------------------------------------------------------------------------
  async function conflict(row, mine) {
    const lesion = lesionOf(row);
    const s = state[lesion];
    const current = await call("GET", `${config.urls.observations}${s.observation}/`);
    if (current.status !== 200) {
      setRowStatus(row, "not saved: the record could not be read back", "error");
      return;
    }
    const theirs = current.data;
    row.classList.add("conflicted");
    setRowStatus(row, "changed by someone else", "conflict");
    const old = document.getElementById(`conflict-${lesion}`);
    if (old) old.remove();
    const diff = FIELDS.filter((f) => f in mine && normal(theirs[f]) !== normal(mine[f]));
    const line = document.createElement("tr");
    line.className = "conflict-row";
    line.id = `conflict-${lesion}`;
    const cell = document.createElement("td");
    cell.colSpan = row.cells.length;
    cell.setAttribute("role", "alert");
    const text = document.createElement("p");
    text.textContent = `${row.querySelector(".lesion-name").textContent} was changed by someone `
      + "else since you opened this study. Nothing of yours was overwritten and nothing of "
      + "theirs. " + (diff.length ? diff.map((f) => `${LABELS[f]}: theirs ${show(theirs[f])}, `
      + `yours ${show(mine[f])}`).join("; ") + "." : "Their values equal yours.");
    const keep = button("Keep mine", () => {
      s.etag = current.etag;
      line.remove();
      row.classList.remove("conflicted");
      s.dirty = true;
      save(row);
    });
    const take = button("Take theirs", () => {
      s.etag = current.etag;
      setValues(row, theirs);
      line.remove();
      row.classList.remove("conflicted", "unrecorded");
      s.dirty = false;
      showUptake(row, theirs);
      setRowStatus(row, "saved (their version)", "saved");
      updateCount();
    });
    cell.append(text, keep, take);
    line.appendChild(cell);
    row.after(line);
    say("Conflict: choose which version to keep.");
    keep.focus();
  }

  function normal(value) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value === "boolean") return String(value);
    const number = Number(value);
    return Number.isNaN(number) ? String(value) : String(number);
  }
  function show(value) { return normal(value) === "" ? "(empty)" : String(value); }
  function button(label, onClick) {
    const node = document.createElement("button");
    node.type = "button";
    node.className = "secondary";
    node.textContent = label;
    node.addEventListener("click", onClick);
    return node;
  }

  // ---- keyboard ------------------------------------------------------------------------
  function move(from, rowStep, colStep) {
    const row = from.closest("tr.obs-row");
    const list = rows();
    const cells = cellsOf(row);
    let r = list.indexOf(row);
    let c = cells.indexOf(from);
    if (colStep) {
      c += colStep;
      if (c < 0 && r > 0) { r -= 1; c = cellsOf(list[r]).length - 1; }
      if (c >= cells.length && r < list.length - 1) { r += 1; c = 0; }
    }
    r += rowStep;
    if (r < 0 || r >= list.length) {
      if (rowStep > 0) { const add = document.getElementById("new-label"); if (add) add.focus(); }
      return;
    }
    const target = cellsOf(list[r])[Math.max(0, Math.min(c, cellsOf(list[r]).length - 1))];
    if (target) target.focus();
  }

  function atEdge(input, end) {
    if (input.tagName !== "INPUT" || input.type !== "text") return true;
    const whole = input.selectionStart === 0 && input.selectionEnd === input.value.length;
    if (whole) return true;
    return end ? input.selectionEnd === input.value.length : input.selectionStart === 0;
  }

  table.addEventListener("keydown", (event) => {
    const cell = event.target.closest("[data-cell]");
    if (cell && event.ctrlKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      // Ctrl+↑ / Ctrl+↓: the same column in the first / last row, to read column by column.
      event.preventDefault();
      const list = rows();
      const column = cellsOf(cell.closest("tr.obs-row")).indexOf(cell);
      const target = cellsOf(list[event.key === "ArrowUp" ? 0 : list.length - 1])[column];
      if (target) target.focus();
      return;
    }
    if (!cell || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowDown" || (event.key === "Enter" && !event.shiftKey)) {
      event.preventDefault();
      move(cell, 1, 0);
    } else if (event.key === "ArrowUp" || (event.key === "Enter" && event.shiftKey)) {
      event.preventDefault();
      move(cell, -1, 0);
    } else if (event.key === "ArrowLeft" && atEdge(cell, false)) {
      event.preventDefault();
      move(cell, 0, -1);
    } else if (event.key === "ArrowRight" && atEdge(cell, true)) {
      event.preventDefault();
      move(cell, 0, 1);
    } else if (cell.classList.contains("score") && /^\d$/.test(event.key)) {
      // One keystroke is the score: it replaces what the cell held.
      event.preventDefault();
      cell.value = event.key;
      cell.dispatchEvent(new Event("input", {bubbles: true}));
      cell.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });

  table.addEventListener("focusin", (event) => {
    const input = event.target;
    if (input.matches && input.matches("input[type=text][data-cell]")) input.select();
  });

  table.addEventListener("input", (event) => {
    const row = event.target.closest("tr.obs-row");
    if (!row || !config.editable) return;
    state[lesionOf(row)].dirty = true;
    setRowStatus(row, "not saved yet", "dirty");
    schedulePreview(row);
  });

  // A recorded row saves when the reader leaves a changed cell: a refused value writes nothing
  // and the stored row stays whole. A new row is written once, whole, when the reader leaves the
  // row: SUVmax, then a refused Krenning 7, then a long axis never store the SUVmax alone.
  table.addEventListener("change", (event) => {
    const row = event.target.closest("tr.obs-row");
    if (!row || !config.editable) return;
    schedulePreview(row);
    if (state[lesionOf(row)].observation) { scheduleSave(row); return; }
    state[lesionOf(row)].dirty = true;
    if (!incomplete(row)) setRowStatus(row, "not saved yet: saves when you leave the row", "dirty");
  });

  table.addEventListener("focusout", (event) => {
    const row = event.target.closest("tr.obs-row");
    if (!row || !config.editable) return;
    if (event.relatedTarget && row.contains(event.relatedTarget)) return;
    const s = state[lesionOf(row)];
    if (!s.observation && s.dirty && !s.copied) scheduleSave(row);
  });

  // ---- finishing the read ----------------------------------------------------------------------
  // The server records who finished it; here, a read with rows not saved is not finished.
  const finishForm = document.getElementById("finish-form");
  if (finishForm) {
    finishForm.addEventListener("submit", (event) => {
      const open = rows().filter((row) => incomplete(row) || state[lesionOf(row)].dirty
        || state[lesionOf(row)].saving);
      if (!open.length) return;
      event.preventDefault();
      const names = open.map((row) => row.querySelector(".lesion-name").textContent.trim());
      document.getElementById("finish-error").textContent = `${open.length} row`
        + `${open.length === 1 ? " is" : "s are"} not saved (${names.join(", ")}): correct or `
        + "clear them, then finish the read.";
      const cell = open[0].querySelector("[aria-invalid=true]") || cellsOf(open[0])[0];
      if (cell) cell.focus();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (!(event.altKey && event.shiftKey && (event.key === "F" || event.code === "KeyF"))) return;
    event.preventDefault();
    const reopen = document.getElementById("reopen-read");
    if (!finishForm) { if (reopen) reopen.focus(); return; }
    // Leaving the cell saves its row; the read is finished once the saves have answered.
    if (document.activeElement && table.contains(document.activeElement)) {
      document.activeElement.blur();
    }
    const started = Date.now();
    (function finishWhenSaved() {
      const busy = rows().some((row) => {
        const s = state[lesionOf(row)];
        return s.saving || (s.dirty && !s.copied && !incomplete(row));
      });
      if (busy && Date.now() - started < 5000) { setTimeout(finishWhenSaved, 100); return; }
      finishForm.requestSubmit();
    })();
  });

  window.addEventListener("beforeunload", (event) => {
    if (Object.values(state).some((s) => s.dirty || s.saving)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // ---- copy from the previous study ---------------------------------------------------------
  const copyButton = document.getElementById("copy-previous");
  const saveCopied = document.getElementById("save-copied");
  function updateCopyButton() {
    if (!saveCopied) return;
    const left = rows().filter((row) => state[lesionOf(row)].copied);
    saveCopied.hidden = left.length === 0;
    saveCopied.textContent = `Save ${left.length} copied row${left.length === 1 ? "" : "s"}`;
  }
  if (copyButton) {
    copyButton.addEventListener("click", () => {
      let first = null;
      for (const row of rows()) {
        const lesion = lesionOf(row);
        const previous = config.previous[lesion];
        if (!previous || state[lesion].observation) continue;
        setValues(row, previous);
        row.classList.add("copied");
        state[lesion].copied = true;
        state[lesion].dirty = true;
        setRowStatus(row, "copied: check, then save", "dirty");
        schedulePreview(row);
        first = first || row;
      }
      copyButton.hidden = true;
      updateCopyButton();
      say("Copied from the previous study. Check each row; edit a cell or use “Save copied rows”.");
      if (first) cellsOf(first)[0].focus();
    });
  }
  if (saveCopied) {
    saveCopied.addEventListener("click", async () => {
      for (const row of rows()) {
        if (state[lesionOf(row)].copied) await save(row);
      }
      updateCopyButton();
    });
  }

  // ---- add a lesion inline --------------------------------------------------------------------
  const addForm = document.getElementById("add-lesion");
  const template = document.getElementById("row-template");
  let addKey = null;
  let addBody = null;
  if (addForm && template) {
    // Enter adds the lesion from any of its fields (a list or a box does not submit by itself).
    addForm.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.matches("select, input[type=checkbox]")) {
        event.preventDefault();
        addForm.requestSubmit();
      }
    });
    addForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const payload = {
        patient: config.patient,
        label: addForm.elements.label.value.trim(),
        site: addForm.elements.site.value,
        nodal: addForm.elements.nodal.checked,
      };
      const fingerprint = JSON.stringify(payload);
      if (fingerprint !== addBody) { addKey = uuid(); addBody = fingerprint; }
      let answer;
      try {
        answer = await call("POST", config.urls.lesions, payload, {"Idempotency-Key": addKey});
      } catch (_) {
        showErrors(addForm, {non_field_errors: ["No connection: the lesion was not added yet."]});
        return;
      }
      if (answer.status !== 201) {
        const errors = (answer.data && answer.data.errors)
          || {non_field_errors: [(answer.data && answer.data.detail) || "Not added."]};
        const first = showErrors(addForm, errors);
        if (first) first.focus();
        return;
      }
      showErrors(addForm, {});
      const lesion = answer.data;
      const siteName = addForm.elements.site.selectedOptions[0].textContent;
      const html = template.innerHTML
        .replaceAll("__ID__", String(lesion.id))
        .replaceAll("__LABEL__", escapeHtml(lesion.label))
        .replaceAll("__SITE__", escapeHtml(siteName) + (lesion.nodal ? " · nodal" : ""));
      body.insertAdjacentHTML("beforeend", html);
      state[String(lesion.id)] = {observation: null, etag: "", dirty: false};
      const empty = document.getElementById("no-lesions");
      if (empty) empty.remove();
      addForm.reset();
      addKey = null;
      addBody = null;
      updateCount();
      say(`Lesion ${lesion.label} added: enter its read.`);
      cellsOf(body.lastElementChild)[0].focus();
    });
  }

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;", "'": "&#39;"}[c]));
  }

  // Start where the work is: the first row not yet recorded, else the first row.
  const firstOpen = rows().find((row) => !state[lesionOf(row)].observation) || rows()[0];
  if (firstOpen && config.editable && !document.querySelector(".messages .error")) {
    cellsOf(firstOpen)[0].focus();
  } else if (!firstOpen && addForm) {
    addForm.elements.label.focus();
  }
  window.netboardGrid = {state};  // for tests and for the curious
})();
