// Stands in for @daily-co/daily-js in the bundle (esbuild --alias, see package.json).
//
// The SmallWebRTC transport imports daily-js for its default media manager, which loads
// Daily's call machine from Daily's CDN at run time. Echo's page gives the transport its own
// media manager (media.js, getUserMedia only), so nothing here is ever called; if it were,
// it fails loudly instead of fetching code from another host.
function unavailable() {
  throw new Error("daily-js is not bundled: give SmallWebRTCTransport a mediaManager");
}

export default { getCallInstance: unavailable, createCallObject: unavailable };
