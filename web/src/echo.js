// Echo's own page: a plain RTCPeerConnection to POST /api/offer (no client library), the
// microphone and camera, image uploads, and what view.js shows (the conversation, latency per
// turn, the current image, errors). Served as ES modules from web/src: no build step.
import { apiHeaders } from "./token.js";
import * as view from "./view.js";

const $ = (id) => document.getElementById(id);
const { log, setStatus, showError } = view;
const conversation = new view.Conversation($("conversation"));
let pc = null, localStream = null, meters = [];
let channel = null, videoTx = null, cameraTrack = null, pcId = null;
// The answer's pc_token proves later requests for this connection (ICE patches, renegotiation)
// come from us; the server refuses them without it from any other address.
let pcToken = null, offerSent = false, lateCandidates = [];

// Pipecat's RTVI messages on the data channel: user-transcription, bot-output (a sentence is
// "completed" once its audio was played), bot-started/stopped-speaking, bot-interrupted; and
// Echo's own messages (the latency breakdown, the current image), also sent bare.
function showRtvi(m) {
  if (m.label !== "rtvi-ai") return;
  const d = m.data || {};
  switch (m.type) {
    case "user-transcription": conversation.user(d.text, d.final); break;
    case "bot-output": conversation.bot(d); break;
    case "bot-started-speaking": conversation.botSpeaking(true); break;
    case "bot-stopped-speaking": conversation.botSpeaking(false); break;
    case "user-started-speaking": if (conversation.speaking) conversation.interrupted(); break;
    case "bot-interrupted": conversation.interrupted(); break;
    case "error": showError("Echo reported an error: " + (d.error || "unknown")); break;
  }
}

function onMessage(data) {
  let m;
  try { m = JSON.parse(data); } catch { return; }
  if (!m || typeof m !== "object") return;
  if (m.type === "echo-latency") view.showLatency(m);
  else if (m.type === "echo-vision-image") view.showImage(m);
  else if (m.type === "signalling") onSignalling(m);
  else showRtvi(m);
}

function meter(stream, el) {
  const ctx = new AudioContext();
  const src = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  src.connect(analyser);
  const buf = new Uint8Array(analyser.fftSize);
  let running = true;
  (function tick() {
    if (!running) return;
    analyser.getByteTimeDomainData(buf);
    let peak = 0;
    for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
    el.style.width = Math.min(100, peak / 1.28) + "%";
    requestAnimationFrame(tick);
  })();
  return () => { running = false; ctx.close(); };
}

function waitForIceGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 2000);  // host candidates only: gathering is quick
  });
}

async function connect() {
  $("connect").disabled = true;
  showError("");
  conversation.clear();
  setStatus("asking for the microphone…");
  try {
    localStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (e) {
    setStatus("microphone unavailable", true);
    showError(view.describeMicError(e));
    $("connect").disabled = false;
    return;
  }
  meters.push(meter(localStream, $("mic")));
  pc = new RTCPeerConnection({ iceServers: [] });
  localStream.getTracks().forEach((t) => pc.addTrack(t, localStream));
  // Transceiver 1 is the camera: it sends only once "Share camera" puts a track on it.
  videoTx = pc.addTransceiver("video", { direction: "sendrecv" });
  // The server publishes each turn's latency breakdown ("echo-latency") and the current
  // image ("echo-vision-image") on this channel.
  channel = pc.createDataChannel("echo");
  channel.onmessage = (ev) => onMessage(ev.data);
  channel.onopen = () => cameraStatus(false);
  pc.ontrack = (ev) => {
    if (ev.track.kind !== "audio") return;
    const stream = ev.streams[0] || new MediaStream([ev.track]);
    $("botAudio").srcObject = stream;
    $("botAudio").play().catch((e) => log("autoplay blocked: " + e.message));
    meters.push(meter(stream, $("bot")));
  };
  // Candidates found after the offer went out are trickled with PATCH /api/offer.
  pc.onicecandidate = (ev) => {
    if (!offerSent || !ev.candidate || !ev.candidate.candidate) return;
    lateCandidates.push({ candidate: ev.candidate.candidate, sdp_mid: ev.candidate.sdpMid ?? "0",
                          sdp_mline_index: ev.candidate.sdpMLineIndex ?? 0 });
    if (pcId) sendLateCandidates();
  };
  pc.onconnectionstatechange = () => {
    setStatus(pc.connectionState, pc.connectionState === "failed");
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) hangUp();
  };
  const pipeline = $("pipeline").value || "cascaded";
  setStatus("connecting to " + pipeline + "…");
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIceGathering(pc);
  offerSent = true;
  const res = await fetch("/api/offer?pipeline=" + encodeURIComponent(pipeline), {
    method: "POST",
    headers: apiHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, request_data: { pipeline } }),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    setStatus(res.status === 503 && !(answer.detail && answer.detail.missing) ? "busy" : "refused", true);
    showError(view.describeRefusal(res.status, answer.detail, pipeline));
    hangUp();
    return;
  }
  await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  log("connected: pc_id " + answer.pc_id);
  pcId = answer.pc_id;
  pcToken = answer.pc_token;
  sendLateCandidates();
  $("disconnect").disabled = false;
  $("vision").hidden = !view.pipelines.images.has(pipeline);
  $("camera").disabled = $("upload").disabled = !view.pipelines.images.has(pipeline);
}

// --- the connection's own requests: ICE patches and renegotiation -----------------------
async function signal(method, body) {
  const res = await fetch("/api/offer", {
    method,
    headers: apiHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify({ ...body, pc_id: pcId, pc_token: pcToken }),
  });
  const reply = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = reply.detail && (reply.detail.error || JSON.stringify(reply.detail));
    throw new Error(`${method} /api/offer: ${res.status} ${detail || ""}`);
  }
  return reply;
}

function sendLateCandidates() {
  if (!pcId || !lateCandidates.length) return;
  const candidates = lateCandidates;
  lateCandidates = [];
  return signal("PATCH", { candidates }).catch((e) => log("ICE candidates refused: " + e.message));
}

let renegotiating = null;
async function renegotiate() {
  // A new offer on the same connection (Pipecat's server asks once a camera track is live).
  if (!pc || !pcId) return;
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIceGathering(pc);
  const pipeline = $("pipeline").value || "cascaded";
  const answer = await signal("POST", {
    sdp: pc.localDescription.sdp, type: pc.localDescription.type, request_data: { pipeline },
  });
  await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  pcId = answer.pc_id;
  pcToken = answer.pc_token;
  log("renegotiated");
}

function onSignalling(m) {
  if (!m.message || m.message.type !== "renegotiate") return;
  if (renegotiating) return;
  renegotiating = renegotiate()
    .catch((e) => log("renegotiation failed: " + e.message))
    .finally(() => { renegotiating = null; });
}

// --- images (vision pipeline) ------------------------------------------------------------
function cameraStatus(enabled) {
  // Pipecat's SmallWebRTC signalling: tell the server whether the camera track is live.
  if (channel && channel.readyState === "open") {
    channel.send(JSON.stringify({ type: "signalling",
      message: { type: "trackStatus", receiver_index: 1, enabled } }));
  }
}

async function toggleCamera() {
  if (cameraTrack) {
    await videoTx.sender.replaceTrack(null);
    cameraTrack.stop();
    cameraTrack = null;
    cameraStatus(false);
    $("preview").hidden = true;
    $("camera").textContent = "Share camera";
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { max: 10 } },
    });
    cameraTrack = stream.getVideoTracks()[0];
  } catch (e) {
    setStatus("camera refused: " + e.message, true);
    return;
  }
  await videoTx.sender.replaceTrack(cameraTrack);
  cameraStatus(true);
  $("preview").srcObject = new MediaStream([cameraTrack]);
  $("preview").hidden = false;
  $("image").hidden = false;
  $("camera").textContent = "Stop camera";
  log("camera shared: ask Echo about what it shows");
}

async function uploadImage() {
  const file = $("upload").files[0];
  if (!file || !pcId) return;
  $("thumb").src = URL.createObjectURL(file);
  $("thumb").hidden = $("image").hidden = false;
  const res = await fetch("/api/vision/image?pc_id=" + encodeURIComponent(pcId), {
    method: "POST", body: file, headers: apiHeaders({ "X-Echo-PC-Token": pcToken || "" }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    setStatus(`image refused (${res.status}): ${body.error || "error"}`, true);
    $("thumbInfo").textContent = "refused: " + (body.code || res.status);
    return;
  }
  log(`image sent (${body.image.width}x${body.image.height}): ask Echo about it`);
  $("upload").value = "";
}

function hangUp() {
  meters.forEach((stop) => stop());
  meters = [];
  if (pc) { pc.close(); pc = null; }
  if (cameraTrack) { cameraTrack.stop(); cameraTrack = null; }
  channel = videoTx = pcId = pcToken = null;
  offerSent = false;
  lateCandidates = [];
  $("camera").textContent = "Share camera";
  $("camera").disabled = $("upload").disabled = true;
  $("preview").hidden = true;
  if (localStream) { localStream.getTracks().forEach((t) => t.stop()); localStream = null; }
  $("connect").disabled = false;
  $("disconnect").disabled = true;
}

$("connect").onclick = connect;
$("camera").onclick = toggleCamera;
$("upload").onchange = uploadImage;
$("disconnect").onclick = () => { hangUp(); setStatus("idle"); };
$("pipeline").onchange = view.showAvailability;
view.loadPipelines(apiHeaders());

// The page's state for a test or a curious reader (module variables are not globals).
window.echoPage = {
  get pc() { return pc; },
  get pcId() { return pcId; },
  get pcToken() { return pcToken; },
  onMessage,
  trickle(candidate) { lateCandidates.push(candidate); return sendLateCandidates(); },
};
