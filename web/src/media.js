// A media manager for Pipecat's SmallWebRTC transport that uses only getUserMedia.
//
// The transport's default manager (DailyMediaManager) drives devices through daily-js, which
// downloads Daily's call machine from Daily's CDN when it starts. This one asks the browser
// for the microphone directly and hands its track to the transport, which sends it on the
// peer connection; the bot's audio arrives as a remote track (the page plays it).
import { DeviceError } from "@pipecat-ai/client-js";

const LOCAL = { id: "local", name: "", local: true };

// Browser getUserMedia error names -> client-js DeviceError types.
const ERROR_TYPES = {
  NotAllowedError: "permissions",
  SecurityError: "permissions",
  NotFoundError: "not-found",
  OverconstrainedError: "constraints",
  NotReadableError: "in-use",
  AbortError: "in-use",
};

export function deviceErrorType(error) {
  if (!navigator.mediaDevices) return "undefined-mediadevices";
  return ERROR_TYPES[error && error.name] || "unknown";
}

export class LocalMediaManager {
  /**
   * @param {object} [opts]
   * @param {MediaTrackConstraints} [opts.audio] constraints for the microphone
   * @param {(track: MediaStreamTrack) => Promise<void>|void} [opts.onMicChanged] called with
   *   the new track when updateMic switches microphones during a call
   */
  constructor(opts = {}) {
    this._audio = opts.audio || { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    this._onMicChanged = opts.onMicChanged || null;
    this._callbacks = {};
    this._options = null;
    this._micEnabled = true;
    this._camEnabled = false;
    this._stream = null;
  }

  // --- what the transport calls --------------------------------------------------------
  setUserAudioCallback(callback) {
    this._userAudioCallback = callback;  // raw-audio transports only; WebRTC sends the track
  }

  setClientOptions(options, override = false) {
    if (this._options && !override) return;
    this._options = options;
    this._callbacks = options.callbacks ?? {};
    this._micEnabled = options.enableMic ?? true;
  }

  get supportsScreenShare() {
    return false;
  }

  async initialize() {
    await this._open();
  }

  async connect() {
    if (!this._stream) await this._open();
    const track = this._track();
    if (track) {
      track.enabled = this._micEnabled;
      this._callbacks.onTrackStarted?.(track, LOCAL);
    }
  }

  async disconnect() {
    const track = this._track();
    if (this._stream) this._stream.getTracks().forEach((t) => t.stop());
    this._stream = null;
    if (track) this._callbacks.onTrackStopped?.(track, LOCAL);
  }

  userStartedSpeaking() {}

  bufferBotAudio() {}

  tracks() {
    const audio = this._track();
    return { local: audio ? { audio } : {} };
  }

  async getAllMics() {
    return (await this._devices()).filter((d) => d.kind === "audioinput");
  }

  async getAllCams() {
    return [];
  }

  async getAllSpeakers() {
    return (await this._devices()).filter((d) => d.kind === "audiooutput");
  }

  async updateMic(micId) {
    const old = this._stream;
    await this._open(micId);
    if (old) old.getTracks().forEach((t) => t.stop());
    const track = this._track();
    if (track && this._onMicChanged) await this._onMicChanged(track);
  }

  updateCam() {}

  updateSpeaker() {}

  get selectedMic() {
    const track = this._track();
    if (!track) return {};
    const settings = track.getSettings();
    return { deviceId: settings.deviceId || "", groupId: settings.groupId || "", kind: "audioinput", label: track.label };
  }

  get selectedCam() {
    return {};
  }

  get selectedSpeaker() {
    return {};
  }

  enableMic(enable) {
    this._micEnabled = enable;
    const track = this._track();
    if (track) track.enabled = enable;
  }

  enableCam() {
    console.warn("LocalMediaManager: no camera on this page");
  }

  enableScreenShare() {
    console.warn("LocalMediaManager: no screen sharing on this page");
  }

  get isCamEnabled() {
    return false;
  }

  get isMicEnabled() {
    return this._micEnabled;
  }

  get isSharingScreen() {
    return false;
  }

  // --- internals -----------------------------------------------------------------------
  _track() {
    return this._stream ? this._stream.getAudioTracks()[0] || null : null;
  }

  async _devices() {
    if (!navigator.mediaDevices) return [];
    return navigator.mediaDevices.enumerateDevices();
  }

  async _open(micId) {
    const audio = micId ? { ...this._audio, deviceId: { exact: micId } } : this._audio;
    try {
      if (!navigator.mediaDevices) throw new Error("this page has no media devices (it needs https or localhost)");
      this._stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (error) {
      const deviceError = new DeviceError(["mic"], deviceErrorType(error), error.message, { sourceError: error });
      this._callbacks.onDeviceError?.(deviceError);
      throw deviceError;
    }
    this._callbacks.onMicUpdated?.(this.selectedMic);
    this._callbacks.onAvailableMicsUpdated?.(await this.getAllMics());
  }
}
