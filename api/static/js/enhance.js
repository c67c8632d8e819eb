/* Progressive enhancement for Leuchtturm. Every page works without this file.
 * - search: results update while typing or ticking filters (the URL stays shareable)
 * - profile form: live Markdown preview rendered by the server (/vorschau)
 * - small screens: filters start collapsed
 * - Merkliste: "Merken" and "entfernen" without reloading the page
 * - profile form: suggestions from the municipality register for lead, municipalities and partners
 *   (ARIA combobox); picking the lead fills population, area, Land with the register's source and date
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function debounce(fn, ms) {
    var t;
    return function () {
      var args = arguments, self = this;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  /* ---------------------------------------------------------- search */
  function initSearch(form) {
    var results = document.getElementById("ergebnisse");
    var filters = form.querySelector(".filters-toggle");
    if (!results) return;
    if (filters && window.matchMedia && window.matchMedia("(max-width: 56rem)").matches) {
      filters.open = false;
    }
    var controller = null;

    function currentUrl() {
      var params = new URLSearchParams(new FormData(form));
      // Drop empty values so shared links stay short.
      var clean = new URLSearchParams();
      params.forEach(function (value, key) { if (value !== "") clean.append(key, value); });
      var qs = clean.toString();
      return form.getAttribute("action") + (qs ? "?" + qs : "");
    }

    function refresh() {
      var url = currentUrl();
      if (controller) controller.abort();
      controller = typeof AbortController === "function" ? new AbortController() : null;
      results.setAttribute("aria-busy", "true");
      fetch(url, { headers: { "Accept": "text/html" }, signal: controller ? controller.signal : undefined, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("ergebnisse");
          if (fresh) results.innerHTML = fresh.innerHTML;
          // Update facet counts, keeping focus on the control the user is on.
          var active = document.activeElement && document.activeElement.id;
          var oldFacets = form.querySelectorAll("fieldset.facet:not(.my-municipality)");
          var newFacets = doc.querySelectorAll("#suche fieldset.facet:not(.my-municipality)");
          if (oldFacets.length === newFacets.length) {
            for (var i = 0; i < oldFacets.length; i++) {
              if (!oldFacets[i].contains(document.activeElement) || oldFacets[i].innerHTML !== newFacets[i].innerHTML) {
                oldFacets[i].innerHTML = newFacets[i].innerHTML;
              }
            }
          }
          if (active) {
            var el = document.getElementById(active);
            if (el && el !== document.activeElement) el.focus();
          }
          document.title = doc.title;
          if (window.history && window.history.replaceState) window.history.replaceState(null, "", url);
          bindAutosubmit();
        })
        .catch(function () { /* keep the current results; the submit button still works */ })
        .then(function () { results.removeAttribute("aria-busy"); });
    }

    var q = form.querySelector("#q");
    if (q) q.addEventListener("input", debounce(refresh, 300));
    form.addEventListener("change", function (event) {
      var t = event.target;
      if (t && (t.type === "checkbox" || t.id === "sort")) {
        var page = form.querySelector("input[name=seite]");
        if (page) page.remove();
        refresh();
      }
    });
    function bindAutosubmit() { /* sort select lives inside the form; change events bubble to the form */ }
  }

  /* ---------------------------------------------------------- Markdown preview */
  function initPreview(form) {
    var token = form.querySelector("input[name=csrf_token]");
    if (!token) return;
    form.querySelectorAll("textarea[data-preview-target]").forEach(function (area) {
      var box = document.getElementById(area.getAttribute("data-preview-target"));
      if (!box) return;
      var body = box.querySelector(".md-preview-body");
      var update = debounce(function () {
        var text = area.value;
        if (!text.trim()) { box.hidden = true; body.innerHTML = ""; return; }
        var data = new FormData();
        data.append("text", text);
        data.append("csrf_token", token.value);
        fetch("/vorschau", { method: "POST", body: data, credentials: "same-origin" })
          .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
          .then(function (html) { body.innerHTML = html; box.hidden = false; })
          .catch(function () { /* the "Vorschau" button still works */ });
      }, 400);
      area.addEventListener("input", update);
    });
  }

  /* ---------------------------------------------------------- Merkliste (compare basket) */
  function initBasket(form) {
    var slot = document.getElementById("merkliste");
    var status = document.getElementById("merkliste-meldung");
    var back = form.querySelector("input[name=weiter]");
    if (back) back.value = window.location.pathname + window.location.search;

    function setToggles(slugs) {
      document.querySelectorAll("button.basket-toggle[data-basket-slug]").forEach(function (button) {
        var slug = button.getAttribute("data-basket-slug");
        var inBasket = slugs.indexOf(slug) !== -1;
        button.name = inBasket ? "entfernen" : "hinzufuegen";
        button.classList.toggle("is-in-basket", inBasket);
        var text = button.querySelector(".basket-toggle-text");
        if (text) text.textContent = inBasket ? "Von der Merkliste entfernen" : "Merken zum Vergleich";
      });
    }

    var queue = window.Promise ? Promise.resolve() : null;
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (!submitter || !window.fetch || !queue || !slot) return;  // the form posts normally
      event.preventDefault();
      if (back) back.value = window.location.pathname + window.location.search;
      var data = new FormData(form);
      data.append(submitter.name, submitter.value);
      var wasInBar = slot.contains(submitter);
      // One request at a time: the basket lives in a cookie, so a click sent before the previous answer's
      // cookie arrived would start from the old basket and undo the previous click.
      queue = queue.catch(function () {}).then(function () {
        return fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch", "Accept": "application/json" } });
      });
      queue
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (answer) {
          slot.innerHTML = answer.bar;
          setToggles(answer.slugs);
          if (status) { status.textContent = ""; status.textContent = answer.message; }
          if (wasInBar) {
            var heading = document.getElementById("merkliste-titel");
            if (heading) heading.focus();
          }
        })
        .catch(function () {  // post the ordinary way (the answer is a page)
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = submitter.name; hidden.value = submitter.value;
          form.appendChild(hidden);
          form.submit();
        });
    });
    // buttons outside the form (form="merkliste-form") fire the form's submit event with event.submitter
  }

  /* ---------------------------------------------------------- register autocomplete (editor form) */
  var NAME_INPUT = /^f-(lead|municipalities-\d+|partners-\d+)-name$/;
  var comboCount = 0;

  function germanDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? m[3] + "." + m[2] + "." + m[1] : (iso || "");
  }

  function setValue(id, value) {
    var el = document.getElementById(id);
    if (!el || value === null || value === undefined || value === "") return false;
    if (el.tagName === "SELECT") {
      var found = false;
      for (var i = 0; i < el.options.length; i++) if (el.options[i].value === String(value)) found = true;
      if (!found) return false;
    }
    el.value = String(value);
    el.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function fillFromRegister(prefix, item, note) {
    setValue(prefix + "-ags", item.ags || "");
    setValue(prefix + "-kind", item.kind);
    if (prefix !== "f-lead") return;
    fetch("/api/v1/municipalities/" + encodeURIComponent(item.key), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (d) {
        var filled = [];
        if (d.population !== null && setValue("f-population", d.population.toLocaleString("de-DE"))) filled.push("Einwohner");
        setValue("f-population-as-of", germanDate(d.population_as_of));
        setValue("f-population-source", d.population_source || (d.source && d.source.name));
        if (d.area_km2 !== null && setValue("f-area-km2", d.area_km2.toLocaleString("de-DE", { maximumFractionDigits: 2 }))) filled.push("Fläche");
        if (setValue("f-state", d.state)) filled.push("Bundesland");
        if (note && filled.length) {
          note.textContent = filled.join(", ") + " von " + d.name + " aus dem Gemeindeverzeichnis übernommen (Stand " +
            germanDate(d.population_as_of) + ", " + (d.population_source || d.source.name) + "). Sie können die Werte ändern.";
        }
      })
      .catch(function () { /* the fields stay as they are */ });
  }

  function initCombobox(input) {
    if (input.getAttribute("role") === "combobox") return;
    var prefix = input.id.replace(/-name$/, "");
    var listId = input.id + "-vorschlaege";
    comboCount += 1;
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "combo-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Vorschläge aus dem Gemeindeverzeichnis");
    list.hidden = true;
    input.insertAdjacentElement("afterend", list);
    var note = null;
    if (prefix === "f-lead") {
      note = document.createElement("p");
      note.className = "hint register-note";
      note.setAttribute("role", "status");
      list.insertAdjacentElement("afterend", note);
    }
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");
    var items = [], active = -1, controller = null;

    function close() {
      list.hidden = true; list.innerHTML = ""; items = []; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(i) {
      var options = list.querySelectorAll("[role=option]");
      options.forEach(function (o, n) { o.setAttribute("aria-selected", n === i ? "true" : "false"); });
      active = i;
      if (i >= 0 && options[i]) input.setAttribute("aria-activedescendant", options[i].id);
      else input.removeAttribute("aria-activedescendant");
    }
    function pick(i) {
      var item = items[i];
      if (!item) return;
      input.value = item.name;
      close();
      fillFromRegister(prefix, item, note);
    }
    function show(found) {
      items = found; list.innerHTML = "";
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var where = [item.kind_label, item.kreis, item.state].filter(Boolean).join(", ");
        li.textContent = item.name + (where ? " (" + where + ")" : "");
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        list.appendChild(li);
      });
      list.hidden = found.length === 0;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      active = -1;
    }
    var lookup = debounce(function () {
      var text = input.value.trim();
      if (text.length < 2) { close(); return; }
      if (controller) controller.abort();
      controller = typeof AbortController === "function" ? new AbortController() : null;
      fetch("/api/v1/municipalities?limit=8&q=" + encodeURIComponent(text),
            { headers: { "Accept": "application/json" }, credentials: "same-origin", signal: controller ? controller.signal : undefined })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (answer) { if (document.activeElement === input) show(answer.items || []); })
        .catch(function () { /* no suggestions; the field works as plain text */ });
    }, 200);
    input.addEventListener("input", lookup);
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && items.length) { e.preventDefault(); highlight((active + 1) % items.length); }
      else if (e.key === "ArrowUp" && items.length) { e.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); pick(active); }
      else if (e.key === "Escape" && !list.hidden) { e.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function initRegisterLookup(form) {
    form.querySelectorAll("input[id]").forEach(function (input) { if (NAME_INPUT.test(input.id)) initCombobox(input); });
    form.addEventListener("focusin", function (e) {
      var t = e.target;
      if (t && t.tagName === "INPUT" && NAME_INPUT.test(t.id || "")) initCombobox(t);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var basket = document.querySelector("form[data-basket-form]");
    if (basket) initBasket(basket);
    var search = document.querySelector("form[data-instant-search]");
    if (search) initSearch(search);
    var profileForm = document.querySelector("form[data-profile-form]");
    if (profileForm) { initPreview(profileForm); initRegisterLookup(profileForm); }
  });
})();
