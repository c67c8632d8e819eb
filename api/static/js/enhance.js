/* Progressive enhancement for Leuchtturm. Every page works without this file.
 * - search: results update while typing or ticking filters (the URL stays shareable)
 * - profile form: live Markdown preview rendered by the server (/vorschau)
 * - small screens: filters start collapsed
 * - Merkliste: "Merken" and "entfernen" without reloading the page
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

    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (!submitter || !window.fetch || !slot) return;  // the form posts normally
      event.preventDefault();
      if (back) back.value = window.location.pathname + window.location.search;
      var data = new FormData(form);
      data.append(submitter.name, submitter.value);
      var wasInBar = slot.contains(submitter);
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch", "Accept": "application/json" } })
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

  document.addEventListener("DOMContentLoaded", function () {
    var basket = document.querySelector("form[data-basket-form]");
    if (basket) initBasket(basket);
    var search = document.querySelector("form[data-instant-search]");
    if (search) initSearch(search);
    var profileForm = document.querySelector("form[data-profile-form]");
    if (profileForm) initPreview(profileForm);
  });
})();
