/* The till: wedge scanners (fast keystrokes + Enter), camera scanning, in-place results.
   Without this script the form still works as a plain POST. No CDN: jsQR is vendored. */
(function () {
  "use strict";
  var form = document.getElementById("till");
  if (!form || !window.fetch || !window.FormData) return;
  var input = document.getElementById("voucher");
  var purchase = document.getElementById("purchase");
  var result = document.getElementById("result");
  var cameraButton = document.getElementById("camera");
  var video = document.getElementById("preview");
  var script = document.currentScript || document.querySelector("script[data-jsqr]");
  var msg = form.dataset;
  var last = { value: "", at: 0 };
  var failed = null; /* the submission whose answer never arrived: a retry reuses its Idempotency-Key */
  var busy = false;

  function newKey() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "till-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* Full-width or IME-mangled input: NFKC, strip spaces and dashes, uppercase (signed tokens keep case). */
  function normalise(raw) {
    var text = (raw || "").normalize ? raw.normalize("NFKC") : raw;
    text = text.trim();
    if (text.indexOf("/") >= 0) text = text.replace(/\/+$/, "").split("/").pop();
    text = text.replace(/[\s\-\u2010-\u2015\u2212\u30fc_]+/g, "");
    return text.indexOf(".") >= 0 ? text : text.toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
  }

  function focusInput() { if (document.activeElement !== purchase) input.focus(); }

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }

  function show(data) {
    var r = data.result, box;
    result.textContent = "";
    if (r.ok && r.code === "REVERSED") {
      box = el("div", "banner good"); box.appendChild(el("h1", null, msg.msgReversed));
    } else if (r.ok) {
      box = el("div", "banner good"); box.setAttribute("role", "status");
      box.appendChild(el("h1", null, "\u2713 " + msg.msgRedeemed + " \u00a5" + r.value));
      box.appendChild(el("p", null, r.voucher + " \u00b7 " + r.at));
      var undo = el("button", "secondary", msg.msgUndo); undo.type = "button";
      undo.onclick = function () { post("/clerk/reverse/" + r.redemption_id, new FormData()); };
      box.appendChild(undo);
    } else {
      box = el("div", "banner bad"); box.setAttribute("role", "alert"); box.setAttribute("data-error", r.code);
      box.appendChild(el("h1", null, "\u2717 " + msg.msgRefused));
      box.appendChild(el("p", "reason", r.message));
      if (r.voucher) box.appendChild(el("p", null, r.voucher));
    }
    result.appendChild(box);
    if (navigator.vibrate) navigator.vibrate(r.ok ? 80 : [60, 60, 60]);
    if (data.today) {
      document.getElementById("today-count").textContent = data.today.count;
      document.getElementById("today-value").textContent = data.today.value;
      document.getElementById("mine-count").textContent = data.today.mine;
      document.getElementById("mine-earned").textContent = data.today.earned;
    }
    if (data.balance) {
      document.getElementById("bal-held").textContent = data.balance.held;
      document.getElementById("bal-available").textContent = data.balance.available;
      document.getElementById("bal-settled").textContent = data.balance.settled;
    }
    if (data.idem) form.elements.idem.value = data.idem; /* for a plain (no-JS) resubmission */
    if (r.ok || r.code !== "MIN_SPEND_NOT_MET") { input.value = ""; purchase.value = ""; input.focus(); }
    else { purchase.focus(); }
  }

  var pending = null;
  function post(url, body) {
    body.append("csrf_token", form.elements.csrf_token.value);
    busy = true;
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "Accept": "application/json", "X-CSRFToken": form.elements.csrf_token.value } })
      .then(function (resp) {
        if (resp.redirected || !/json/.test(resp.headers.get("content-type") || "")) { window.location = "/login?next=/clerk"; return null; }
        return resp.json();
      })
      .then(function (data) {
        if (data && data.error) data = { result: { ok: false, code: data.error.code, message: data.error.message, voucher: input.value } };
        if (data) show(data);
      })
      .catch(function () {
        if (pending) failed = pending;
        show({ result: { ok: false, code: "NETWORK", message: msg.msgNetwork, voucher: pending ? pending.voucher : "" } });
        if (pending) input.value = pending.voucher;
      })
      .then(function () { busy = false; });
  }

  function submit(raw) {
    var value = normalise(raw);
    if (!value || busy) return;
    var now = Date.now(), dedupe = value + "|" + purchase.value;
    var retry = failed && failed.dedupe === dedupe;
    if (!retry && dedupe === last.value && now - last.at < 2000) { input.value = ""; return; } /* a scanner's repeat */
    last = { value: dedupe, at: now };
    var key = retry ? failed.key : newKey();
    failed = null;
    pending = { dedupe: dedupe, key: key, voucher: value };
    var body = new FormData();
    body.append("voucher", value);
    body.append("purchase", purchase.value);
    body.append("idem", key);
    post(form.action, body).then(function () { pending = null; });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(input.value); });
  document.addEventListener("click", function (ev) { if (!ev.target.closest("input,button,a,video")) focusInput(); });
  window.addEventListener("focus", focusInput);

  /* Camera: the browser's BarcodeDetector where present, else the vendored jsQR on canvas frames. */
  var stream = null, detector = null, canvas = null, jsqrLoading = null;
  function loadJsQR() {
    if (window.jsQR) return Promise.resolve();
    if (!jsqrLoading) jsqrLoading = new Promise(function (ok, fail) {
      var s = document.createElement("script"); s.src = script.dataset.jsqr; s.onload = ok; s.onerror = fail; document.head.appendChild(s);
    });
    return jsqrLoading;
  }
  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null; video.hidden = true; input.focus();
  }
  function scanFrame() {
    if (!stream) return;
    if (video.readyState < 2) { requestAnimationFrame(scanFrame); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) { stopCamera(); submit(codes[0].rawValue); } else setTimeout(scanFrame, 120);
      }, function () { setTimeout(scanFrame, 250); });
      return;
    }
    canvas = canvas || document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    var ctx = canvas.getContext("2d"); ctx.drawImage(video, 0, 0);
    var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
    if (code && code.data) { stopCamera(); submit(code.data); } else setTimeout(scanFrame, 150);
  }
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    cameraButton.hidden = false;
    cameraButton.addEventListener("click", function () {
      if (stream) { stopCamera(); return; }
      var ready = ("BarcodeDetector" in window)
        ? window.BarcodeDetector.getSupportedFormats().then(function (f) { if (f.indexOf("qr_code") >= 0) detector = new window.BarcodeDetector({ formats: ["qr_code"] }); else return loadJsQR(); })
        : loadJsQR();
      ready.then(function () { return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }); })
        .then(function (s) { stream = s; video.srcObject = s; video.hidden = false; return video.play(); })
        .then(scanFrame)
        .catch(function () { stopCamera(); show({ result: { ok: false, code: "CAMERA", message: msg.msgCamera, voucher: "" } }); });
    });
  }
  input.focus();
})();
