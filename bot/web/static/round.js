// The good-news round by keyboard. The form works without this (Tab moves between the
// notes, the button queues them all); with it: Enter goes to the next child, Shift+Enter
// is a new line, Ctrl+Enter (or Cmd+Enter) queues every note, and each note is checked
// for plain words when you leave it.
(function () {
  "use strict";
  var form = document.getElementById("round-form");
  if (!form) { return; }
  var notes = Array.prototype.slice.call(form.querySelectorAll("textarea.round-note"));
  var token = form.querySelector("input[name=csrf_token]").value;
  var count = document.getElementById("round-count");
  var keys = document.getElementById("round-keys");
  var plainKeys = document.getElementById("round-keys-plain");
  var sent = false;
  if (keys) { keys.hidden = false; }
  if (plainKeys) { plainKeys.hidden = true; }

  function written() {
    return notes.filter(function (n) { return n.value.trim() !== ""; }).length;
  }

  function showCount() {
    var n = written();
    if (count) { count.textContent = n + " of " + notes.length + " written"; }
  }

  function queue() {
    if (sent) { return; }  // one round, one submit: the server refuses a second anyway
    sent = true;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  function check(note) {
    if (!window.fetch || note.value.trim() === "") { return; }
    var box = document.getElementById("checks-" + note.id.replace("note-", ""));
    var body = new URLSearchParams();
    body.set("text", note.value);
    fetch(form.getAttribute("data-check-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (res) { return res.ok ? res.json() : null; })
      .then(function (r) {
        if (!r || !box) { return; }
        box.textContent = "";
        var p = null;
        if (r.too_long) {
          p = document.createElement("p");
          p.className = "error";
          p.textContent = r.length + " characters: keep good news under " + r.max_length + ".";
        } else if (r.jargon.length) {
          p = document.createElement("p");
          p.className = "warning";
          p.textContent = "Words families may not know: " + r.jargon.map(function (h) {
            return "\"" + h.found + "\": say \"" + h.plain + "\"";
          }).join("; ");
        }
        if (p) { box.appendChild(p); }
      })
      .catch(function () { /* the server checks every note again when it is queued */ });
  }

  notes.forEach(function (note, i) {
    note.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") { return; }
      if (e.ctrlKey || e.metaKey) { e.preventDefault(); queue(); return; }
      if (e.shiftKey || e.altKey) { return; }  // a new line inside the note
      e.preventDefault();
      var next = notes[i + 1];
      if (next) { next.focus(); } else { document.getElementById("round-queue").focus(); }
    });
    note.addEventListener("input", showCount);
    note.addEventListener("change", function () { check(note); });
  });
  form.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.tagName !== "TEXTAREA") {
      e.preventDefault();
      queue();
    }
  });
  form.addEventListener("submit", function () { sent = true; });
  showCount();
}());
