// Starts Swagger UI on the API docs page (/api/docs). A file of its own rather than an inline
// script, so the page keeps the hub's Content-Security-Policy (script-src 'self').
// The page's #swagger-ui element carries the document's address (data-spec-url) and any
// extra Swagger UI options (data-config, JSON).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var config = {
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    // No badge fetched from a validator elsewhere: the page talks to the hub only.
    validatorUrl: null,
    // A token typed into Authorize lives as long as the tab, never in localStorage.
    persistAuthorization: false,
    displayRequestDuration: true
  };
  var extra = JSON.parse(root.getAttribute("data-config") || "{}");
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });
  window.ui = SwaggerUIBundle(config);
})();
