// Drafts kept across a session expiry: what is typed in any form marked
// data-draft="<name>" is kept in this tab's sessionStorage (gone when the tab closes). When
// the session has run out, the server sends the browser to the sign-in page and then back to
// the form (bot/web/staff/deps.py login_redirect); arriving from the sign-in page, an empty
// form gets its draft back. Arriving any other way, the form starts as the server drew it
// and the old draft is forgotten (it was sent, or left). Drafts belong to the member of
// staff who wrote them (body data-staff); signing out forgets them all.
(function () {
  "use strict";
  var PREFIX = "sg-draft:";
  var store;
  try { store = window.sessionStorage; store.getItem(PREFIX); } catch (e) { return; }
  var staff = document.body.getAttribute("data-staff") || "";
  var onLogin = window.location.pathname === "/login";
  var fromLogin = false;
  try { fromLogin = new URL(document.referrer).pathname === "/login"; } catch (e) { /* none */ }

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      var type = (el.type || "").toLowerCase();
      return el.name && el.name !== "csrf_token" && !el.disabled &&
        ["hidden", "password", "submit", "button", "reset", "file"].indexOf(type) < 0;
    });
  }

  function read(key) {
    try { return JSON.parse(store.getItem(PREFIX + key) || "null"); } catch (e) { return null; }
  }

  function save(form) {
    var values = {};
    var typed = false;
    fields(form).forEach(function (el) {
      var type = (el.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        if (el.checked) { values[el.name + "=" + el.value] = true; }
      } else {
        values[el.name] = el.value;
        if (el.tagName === "TEXTAREA" && el.value.trim()) { typed = true; }
      }
    });
    var key = form.getAttribute("data-draft");
    if (!typed) { store.removeItem(PREFIX + key); return; }
    store.setItem(PREFIX + key, JSON.stringify({ staff: staff, values: values }));
  }

  function pristine(form) {
    return fields(form).every(function (el) {
      return el.tagName !== "TEXTAREA" || !el.value.trim();
    });
  }

  function restore(form, draft) {
    fields(form).forEach(function (el) {
      var type = (el.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        el.checked = !!draft.values[el.name + "=" + el.value];
      } else if (Object.prototype.hasOwnProperty.call(draft.values, el.name)) {
        el.value = draft.values[el.name];
      }
      // scripts that follow a field (which audience, the as-you-type check) see it change
      el.dispatchEvent(new Event("change", { bubbles: true }));
    });
    var note = document.createElement("p");
    note.className = "notice draft-restored";
    note.setAttribute("role", "status");
    note.textContent = "Your draft was kept while you signed in again. Check it, then send.";
    form.parentNode.insertBefore(note, form);
  }

  var here = {};
  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), function (form) {
    var key = form.getAttribute("data-draft");
    here[key] = true;
    var draft = read(key);
    if (draft && draft.staff === staff && fromLogin && pristine(form)) {
      restore(form, draft);
    }
    save(form);
    form.addEventListener("input", function () { save(form); });
    form.addEventListener("change", function () { save(form); });
  });

  // Any other form's draft: kept only through the sign-in page.
  if (!onLogin) {
    for (var i = store.length - 1; i >= 0; i--) {
      var name = store.key(i);
      if (name && name.indexOf(PREFIX) === 0 && !here[name.slice(PREFIX.length)]) {
        store.removeItem(name);
      }
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.signout"), function (form) {
    form.addEventListener("submit", function () {
      for (var j = store.length - 1; j >= 0; j--) {
        var k = store.key(j);
        if (k && k.indexOf(PREFIX) === 0) { store.removeItem(k); }
      }
    });
  });
}());
