// Nothing typed is lost to a sign-out. A form marked data-draft-key keeps what is typed in it in
// this tab's sessionStorage (gone when the tab closes, or at "Sign out"). If the session ends in
// between (the idle timeout) and the form is sent, the server answers with the login page; after
// signing in, the form comes back with what was typed and a note saying so.
//
// The key names the form and the version of the record it edits (e.g. a decision's last save),
// so a draft is only ever put back into the form it was typed in. A form sent and answered with
// any page but a sign-in page was saved (or re-shown by the server with what was sent): its
// draft is dropped then.
(function () {
  "use strict";
  var PREFIX = "netboard-draft:";
  var SENT = "netboard-draft-sent";
  var store;
  try {
    store = window.sessionStorage;
    store.getItem(SENT);
  } catch (e) {
    return; // storage switched off: forms work as before, without drafts
  }
  var signingIn = document.body.hasAttribute("data-signing-in");

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !el.disabled && el.type !== "hidden" && el.type !== "password" &&
        el.type !== "submit" && el.type !== "button" && el.type !== "file";
    });
  }

  function read(form) {
    var values = {};
    fields(form).forEach(function (el) {
      if (el.type === "checkbox") {
        values[el.name + "=" + el.value] = el.checked;
      } else if (el.type === "radio") {
        if (el.checked) values[el.name] = el.value;
      } else {
        values[el.name] = el.value;
      }
    });
    return values;
  }

  function write(form, values) {
    fields(form).forEach(function (el) {
      if (el.type === "checkbox") {
        var key = el.name + "=" + el.value;
        if (key in values) el.checked = values[key];
      } else if (el.type === "radio") {
        if (el.name in values) el.checked = el.value === values[el.name];
      } else if (el.name in values) {
        el.value = values[el.name];
      }
    });
  }

  // The form sent from the previous page: answered with a page other than a sign-in page (and
  // other than that form again), it was saved.
  var sent = store.getItem(SENT);
  if (sent && !signingIn) {
    store.removeItem(SENT);
    var again = document.querySelector('form[data-draft-key="' + sent.replace(/["\\]/g, "\\$&") + '"]');
    if (!again || again.hasAttribute("data-draft-bound")) store.removeItem(PREFIX + sent);
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-key]"), function (form) {
    var key = PREFIX + form.getAttribute("data-draft-key");
    var kept = store.getItem(key);
    if (kept && !form.hasAttribute("data-draft-bound")) {
      try {
        write(form, JSON.parse(kept));
        var note = document.createElement("p");
        note.className = "notice draft-restored";
        note.setAttribute("role", "status");
        note.textContent = "Put back what you typed before you were signed out; nothing is saved yet. ";
        var discard = document.createElement("button");
        discard.type = "button";
        discard.className = "link";
        discard.textContent = "Discard it";
        discard.addEventListener("click", function () {
          store.removeItem(key);
          form.reset();
          note.remove();
        });
        note.appendChild(discard);
        form.insertBefore(note, form.firstChild);
      } catch (e) {
        store.removeItem(key);
      }
    }
    function keep() {
      store.setItem(key, JSON.stringify(read(form)));
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    form.addEventListener("submit", function () {
      keep();
      store.setItem(SENT, form.getAttribute("data-draft-key"));
    });
  });

  // Signing out on purpose: the drafts go too (they hold patient data).
  var signOut = document.getElementById("signout-form");
  if (signOut) {
    signOut.addEventListener("submit", function () {
      for (var i = store.length - 1; i >= 0; i--) {
        var name = store.key(i);
        if (name && (name.indexOf(PREFIX) === 0 || name === SENT)) store.removeItem(name);
      }
    });
  }
})();
