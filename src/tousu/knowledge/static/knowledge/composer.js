// The composer's live SMS count: the text as the customer receives it (the outbox's frame around
// the agent's words, from data-before/data-after) in SMS units — docs/adr/0020's rule: all GSM
// 7-bit characters: 160 in one SMS, 153 per segment; otherwise UCS-2: 70 in one, 67 per segment.
(function () {
  "use strict";
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXT = "^{}\\[~]|€\f";

  function smsCount(text) {
    var gsm = true, septets = 0, i, c;
    for (i = 0; i < text.length; i++) {
      c = text.charAt(i);
      if (GSM.indexOf(c) >= 0) { septets += 1; }
      else if (GSM_EXT.indexOf(c) >= 0) { septets += 2; }
      else { gsm = false; break; }
    }
    var length = gsm ? septets : text.length; // JS strings are UTF-16: an emoji counts 2, as in UCS-2
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var segments = length === 0 ? 0 : (length <= single ? 1 : Math.ceil(length / multi));
    return { length: length, segments: segments, per: length <= single ? single : multi };
  }

  function mode(form) {
    var checked = form ? form.querySelector("input[name=mode]:checked") : null;
    return checked ? checked.value : "note";
  }

  function update(textarea) {
    var out = document.querySelector(textarea.getAttribute("data-sms-count"));
    if (!out) { return; }
    var form = textarea.form, m = mode(form);
    var channel = form ? form.querySelector("select[name=channel]") : null;
    var isSms = (m === "message" && out.getAttribute("data-message-sms") !== "0") ||
      (m === "reply" && channel && channel.value === "sms");
    if (m === "note" || !isSms) { out.textContent = textarea.value.length + " " + (out.getAttribute("data-chars") || "characters"); return; }
    var full = (out.getAttribute("data-before") || "") + textarea.value.trim() + (out.getAttribute("data-after") || "");
    var n = smsCount(full);
    out.textContent = n.length + " / " + n.per + " · " + n.segments + " SMS";
  }

  document.addEventListener("input", function (event) {
    var t = event.target;
    if (t && t.matches && t.matches("textarea[data-sms-count]")) { update(t); }
  });
  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t && t.form && (t.name === "mode" || t.name === "channel")) {
      var area = t.form.querySelector("textarea[data-sms-count]");
      if (area) { update(area); }
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    var area = document.querySelector("textarea[data-sms-count]");
    if (area) { update(area); }
  });
})();
