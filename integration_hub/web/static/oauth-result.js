// Popup flows: tell the window that opened this one how connecting ended, then close.
(function () {
  var result = document.getElementById("oauth-result");
  if (!result || !window.opener) { return; }
  var message = {
    type: "integration-hub:oauth-result",
    status: result.dataset.status,
    code: result.dataset.code,
    integrationId: result.dataset.integration || null
  };
  try {
    window.opener.postMessage(message, result.dataset.targetOrigin);
  } finally {
    window.close();
  }
})();
