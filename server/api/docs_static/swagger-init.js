// Starts Swagger UI on this server's OpenAPI document. A file rather than an inline
// script, so the page's Content-Security-Policy can refuse every inline script.
const root = document.getElementById("swagger-ui");

window.ui = SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // No badge from validator.swagger.io: nothing may leave this origin.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
