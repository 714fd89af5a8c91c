// Echo's RTVI page: Pipecat's official JavaScript client (@pipecat-ai/client-js) over its
// SmallWebRTC transport, talking to Echo's POST /api/offer. Built into dist/rtvi.js with
// esbuild (`make web`); everything it needs is in that bundle, nothing loads from a CDN.
import { PipecatClient } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";

import { LocalMediaManager } from "./media.js";
import { apiHeaders } from "./token.js";
import * as view from "./view.js";

const $ = (id) => document.getElementById(id);
const conversation = new view.Conversation($("conversation"));
let client = null;

// The page's state for a test or a curious reader: window.echoRtvi.client, .transport
window.echoRtvi = { client: null, transport: null, serverMessages: 0 };

function playBotAudio(track, participant) {
  if ((participant && participant.local) || track.kind !== "audio") return;
  const audio = $("botAudio");
  audio.srcObject = new MediaStream([track]);
  audio.play().catch((e) => view.log("autoplay blocked: " + e.message));
}

function onServerMessage(data) {
  window.echoRtvi.serverMessages += 1;
  if (!data || typeof data !== "object") return;
  if (data.type === "echo-latency") view.showLatency(data);
  else if (data.type === "echo-vision-image") view.showImage(data);
}

function callbacks() {
  return {
    onTransportStateChanged: (state) => view.setStatus(state),
    onBotReady: () => view.log("bot ready"),
    onDisconnected: () => done(),
    onTrackStarted: playBotAudio,
    onUserStartedSpeaking: () => {
      // Echo stops talking when the caller speaks over it (client-js has no bot-interrupted).
      if (conversation.speaking) conversation.interrupted();
      $("you").classList.add("on");
    },
    onUserStoppedSpeaking: () => $("you").classList.remove("on"),
    onBotStartedSpeaking: () => { conversation.botSpeaking(true); $("echo").classList.add("on"); },
    onBotStoppedSpeaking: () => { conversation.botSpeaking(false); $("echo").classList.remove("on"); },
    onUserTranscript: (data) => conversation.user(data.text, data.final),
    onBotOutput: (data) => conversation.bot(data),
    onServerMessage,
    onMetrics: () => {},
    onError: (message) => {
      const error = message && message.data && message.data.error;
      view.showError("Echo reported an error: " + (error || "unknown"));
    },
    onDeviceError: (error) => view.showError(view.describeDeviceError(error)),
  };
}

async function refusalOf(error) {
  const response = [error, error && error.cause].find((x) => typeof Response !== "undefined" && x instanceof Response);
  if (!response) return null;
  const body = await response.json().catch(() => ({}));
  return { status: response.status, detail: body.detail };
}

async function connect() {
  const pipeline = $("pipeline").value || "cascaded";
  $("connect").disabled = true;
  view.showError("");
  conversation.clear();
  const transport = new SmallWebRTCTransport({
    iceServers: [],
    mediaManager: new LocalMediaManager({
      onMicChanged: (track) => transport.pc && transport.getAudioTransceiver().sender.replaceTrack(track),
    }),
  });
  client = new PipecatClient({ transport, enableMic: true, enableCam: false, callbacks: callbacks() });
  window.echoRtvi.client = client;
  window.echoRtvi.transport = transport;
  try {
    await client.initDevices();
  } catch (e) {
    view.setStatus("microphone unavailable");
    view.showError(view.describeDeviceError(e));
    done();
    return;
  }
  $("disconnect").disabled = false;
  try {
    await client.connect({
      webrtcRequestParams: {
        endpoint: "/api/offer?pipeline=" + encodeURIComponent(pipeline),
        headers: new Headers(apiHeaders()),
      },
    });
    view.log("connected to " + pipeline + " (pc_id " + transport.pc_id + ")");
  } catch (e) {
    const refusal = await refusalOf(e);
    view.setStatus(refusal ? "refused" : "error");
    view.showError(refusal ? view.describeRefusal(refusal.status, refusal.detail, pipeline)
                           : "Could not connect: " + (e && e.message ? e.message : e));
    await hangUp();
  }
}

async function hangUp() {
  const current = client;
  client = null;
  if (current) await current.disconnect().catch(() => {});
  done();
}

function done() {
  conversation.botSpeaking(false);
  $("you").classList.remove("on");
  $("echo").classList.remove("on");
  $("connect").disabled = false;
  $("disconnect").disabled = true;
}

$("connect").onclick = connect;
$("disconnect").onclick = () => hangUp().then(() => view.setStatus("disconnected"));
$("pipeline").onchange = view.showAvailability;
view.loadPipelines(apiHeaders());
