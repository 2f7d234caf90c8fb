// As-you-type plain-words check for the good-news form. The form works without this:
// the "Check wording" button asks the server for the same findings.
(function () {
  "use strict";
  var form = document.getElementById("compose-form");
  if (!form || !window.fetch) { return; }
  var text = document.getElementById("text");
  var box = document.getElementById("checks");
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null;

  function el(tag, cls, content) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (content) { node.textContent = content; }
    return node;
  }

  function show(r) {
    box.textContent = "";
    if (r.jargon.length) {
      var j = el("div", "warning");
      j.appendChild(el("strong", "", "Words families may not know:"));
      var ul = el("ul");
      r.jargon.forEach(function (h) { ul.appendChild(el("li", "", "\"" + h.found + "\": say \"" + h.plain + "\"")); });
      j.appendChild(ul);
      box.appendChild(j);
    }
    if (r.long_sentences.length) {
      var l = el("div", "warning");
      l.appendChild(el("strong", "", "Long sentences:"));
      var ul2 = el("ul");
      r.long_sentences.forEach(function (s) { ul2.appendChild(el("li", "", s.words + " words: \"" + s.sentence.slice(0, 100) + "\"")); });
      l.appendChild(ul2);
      box.appendChild(l);
    }
    var level = r.reading_age === null ? "Reading level: no words to check yet."
      : "Reading age " + r.reading_age + (r.too_hard ? ": aim for " + r.max_reading_age + " or below." : ": fine.");
    var p = el("p", "", level + " " + r.length + " of " + r.max_length + " characters.");
    p.id = "reading-level";
    box.appendChild(p);
    if (r.ok && !r.too_long && r.words) { box.appendChild(el("p", "notice", "Plain words: ready to preview.")); }
  }

  function check() {
    var body = new URLSearchParams();
    body.set("text", text.value);
    fetch(form.getAttribute("data-check-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (res) { return res.ok ? res.json() : null; })
      .then(function (r) { if (r) { show(r); } })
      .catch(function () { /* the Check button still works */ });
  }

  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
}());

// The audience select: one child shows the child list, a group shows its own options.
(function () {
  "use strict";
  var audience = document.getElementById("audience");
  if (!audience) { return; }
  var child = document.getElementById("child-field");
  var group = document.getElementById("group-fields");
  var label = document.getElementById("text-label");
  function update() {
    var isGroup = audience.value !== "child" && audience.value !== "";
    if (child) { child.hidden = isGroup; }
    if (group) { group.hidden = !isGroup; }
    if (label) { label.textContent = label.getAttribute(isGroup ? "data-group" : "data-child"); }
    var text = document.getElementById("text");
    if (text) { text.maxLength = Number(text.getAttribute(isGroup ? "data-group-max" : "data-child-max")); }
  }
  audience.addEventListener("change", update);
}());
