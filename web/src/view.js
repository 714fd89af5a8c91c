// What the RTVI page shows: the conversation (both sides, the bot's text as it was spoken and
// where the caller cut it off), each turn's latency breakdown, the current image, the
// connection state and errors. Text only ever goes in as textContent: nothing from the wire
// becomes HTML.

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

export function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "err" : "";
}

export function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

export function log(line) {
  $("log").textContent += line + "\n";
}

// --- refusals and device errors: what the caller should do --------------------------------

/** A clear sentence for a refused offer (status + the server's JSON ``detail``). */
export function describeRefusal(status, detail, pipeline) {
  const error = detail && typeof detail === "object" ? detail.error : detail;
  if (status === 503 && detail && Array.isArray(detail.missing) && detail.missing.length) {
    return `The ${pipeline} pipeline is unavailable on this server: it needs ${detail.missing.join(", ")}. Set it on the server and restart it.`;
  }
  if (status === 503) return "Echo is busy: every line is taken right now. Try again in a minute.";
  if (status === 429) return "Too many connection attempts from this address. Wait a minute and try again.";
  return `The server refused the call (${status})${error ? ": " + error : "."}`;
}

/** A clear sentence for a microphone that could not be opened. */
export function describeDeviceError(error) {
  const type = error && error.type;
  if (type === "permissions") {
    return "Microphone access was denied. Allow the microphone for this page, then press Connect again.";
  }
  if (type === "not-found") return "No microphone was found. Plug one in, then press Connect again.";
  if (type === "in-use") return "The microphone is in use by another program. Close it, then press Connect again.";
  if (type === "undefined-mediadevices") return "This page cannot use a microphone here: open it on localhost or over https.";
  return "The microphone could not be opened" + (error && error.message ? ": " + error.message : ".");
}

/** The same sentences for a getUserMedia failure (a DOMException), as Echo's own page meets it. */
export function describeMicError(error) {
  const types = { NotAllowedError: "permissions", SecurityError: "permissions", NotFoundError: "not-found",
                  NotReadableError: "in-use" };
  const type = navigator.mediaDevices ? types[error && error.name] : "undefined-mediadevices";
  return describeDeviceError({ type, message: error && error.message ? error.message : String(error) });
}

// --- the pipelines this server offers ------------------------------------------------------

/** From GET /api/pipelines: what an unavailable variant needs, and which variants take images. */
export const pipelines = { missing: new Map(), images: new Set(["vision"]) };

/** Fill the #pipeline menu from GET /api/pipelines (``headers``: the API token, if any). */
export async function loadPipelines(headers) {
  try {
    const res = await fetch("/api/pipelines", { headers });
    const data = await res.json();
    for (const p of data.pipelines) {
      if (p.images) pipelines.images.add(p.name);
      const opt = document.createElement("option");
      opt.value = p.name;
      opt.textContent = p.available ? `${p.name} — ${p.description}` : `${p.name} (needs ${p.missing.join(", ")})`;
      if (!p.available) pipelines.missing.set(p.name, p.missing);
      if (p.default) opt.selected = true;
      $("pipeline").appendChild(opt);
    }
    showAvailability();
  } catch (e) {
    setStatus("server unreachable", true);
    showError("Cannot reach the Echo server: " + e.message);
  }
}

/** Under the menu: what the chosen variant needs on this server, if it is unavailable. */
export function showAvailability() {
  const name = $("pipeline").value;
  const missing = pipelines.missing.get(name);
  $("notice").textContent = missing
    ? `${name} is unavailable on this server: it needs ${missing.join(", ")}. Set it on the server and restart it.`
    : "";
}

// --- the conversation -----------------------------------------------------------------------

export class Conversation {
  constructor(root) {
    this.root = root;
    this.bubble = null;  // the current entry: {side, node, text}
    this.segments = new Map();  // bot segment_id -> span, for text announced before it is spoken
    this.interim = null;
    this.speaking = false;  // between bot-started-speaking and bot-stopped-speaking
  }

  _entry(side) {
    if (this.bubble && this.bubble.side === side) return this.bubble;
    const node = el("div", "entry " + side);
    node.appendChild(el("span", "who", side === "user" ? "You" : "Echo"));
    const text = el("span", "text");
    node.appendChild(text);
    this.root.appendChild(node);
    this.bubble = { side, node, text };
    this.root.scrollTop = this.root.scrollHeight;
    return this.bubble;
  }

  /** A user transcript; interim ones show in grey until the final one replaces them. */
  user(text, final) {
    if (!text) return;
    const entry = this._entry("user");
    if (this.interim) { this.interim.remove(); this.interim = null; }
    if (final) {
      entry.text.appendChild(el("span", "said", text + " "));
    } else {
      this.interim = el("span", "interim", text);
      entry.text.appendChild(this.interim);
    }
  }

  /** An RTVI ``bot-output``: pending text (will be spoken) turns solid once it was spoken. */
  bot(data) {
    if (!data || !data.text) return;
    const id = data.segment_id;
    const spoken = data.spoken_status === "completed" || data.spoken === true;
    let span = id != null ? this.segments.get(id) : null;
    if (!span) {
      span = el("span", "segment", data.text + " ");
      this._entry("bot").text.appendChild(span);
      if (id != null) this.segments.set(id, span);
    }
    if (data.spoken_status === "in-progress" && data.spoken_progress) {
      span.textContent = data.spoken_progress.accumulated_text + " ";
    }
    if (spoken || data.will_be_spoken === false) {
      // Said (or text-only): solid, even if an interruption was announced just before.
      span.textContent = data.text + " ";
      span.classList.remove("pending", "unspoken");
      span.classList.add("spoken");
      const cut = span.parentNode.querySelector(".cut");
      if (cut) span.parentNode.querySelectorAll(".segment.spoken").forEach((s) => s.after(cut));
    } else if (!span.classList.contains("unspoken")) {
      span.classList.add("pending");
    }
  }

  botSpeaking(speaking) {
    this.speaking = speaking;
  }

  /** The caller cut the bot off: mark the place, strike what was never said. */
  interrupted() {
    if (!this.bubble || this.bubble.side !== "bot") return;
    const entry = this.bubble;
    if (!this.speaking && !entry.text.querySelector(".segment.pending")) return;  // it had finished
    for (const span of entry.text.querySelectorAll(".segment.pending")) {
      span.classList.remove("pending");
      span.classList.add("unspoken");
    }
    if (!entry.text.querySelector(".cut")) {
      const spoken = entry.text.querySelectorAll(".segment.spoken");
      const mark = el("span", "cut", "⟂ interrupted ");
      mark.title = "the caller spoke over Echo here; struck-through text was never said";
      const last = spoken[spoken.length - 1];
      if (last) last.after(mark); else entry.text.prepend(mark);
    }
    this.bubble = null;  // what Echo says next is a new entry
  }

  clear() {
    this.root.textContent = "";
    this.bubble = null;
    this.segments = new Map();
  }
}

// --- Echo's server messages (RTVI server-message data) ---------------------------------------

export function showLatency(m) {
  const s = m.stages_ms || {};
  const ms = (v) => (v == null ? "—" : Math.round(v) + "");
  const row = document.createElement("tr");
  // cascaded turns fill vad…tts; speech-to-speech turns (speech_native) fill vad, model
  const cells = [m.turn, m.transcript || "", ms(m.total_ms) + (m.barge_in ? " (barge-in)" : ""),
                 ms(s.vad), ms(s.stt), ms(s.turn), ms(s.llm), ms(s.tts), ms(s.model), ms(s.output)];
  for (const value of cells) row.appendChild(el("td", null, value));
  $("latency").hidden = false;
  $("latency").querySelector("tbody").prepend(row);
}

export function showImage(m) {
  if (typeof m.thumbnail === "string" && m.thumbnail.startsWith("data:image/jpeg;base64,")) {
    $("thumb").src = m.thumbnail;
  }
  $("thumb").hidden = $("image").hidden = false;
  const i = m.image || {};
  $("thumbInfo").textContent = `${i.source || ""} ${i.width}x${i.height}`;
}
