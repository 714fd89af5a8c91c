// ECHO_API_TOKEN: a deployment that sets it gives the page the token in its URL fragment
// (https://host/rtvi#token=…), which browsers never send to a server or its logs. It is kept
// for this tab only and sent as a bearer header. (web/index.html reads it the same way.)
export const apiToken = (() => {
  const found = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (found) {
    sessionStorage.setItem("echoApiToken", decodeURIComponent(found[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("echoApiToken");
})();

export function apiHeaders(extra = {}) {
  return apiToken ? { ...extra, Authorization: "Bearer " + apiToken } : extra;
}
