// Browser HLS playback through hls.js (installed from npm, served from web/node_modules).
// URLs are our own /live/.../ID.m3u8: the panel port answers 302 to the node's data plane,
// which sends the playlist and segments with CORS allowed (they carry their own tokens).

const PLAYER_URL = "/panel/vendor/hls/hls.min.mjs";
const REFUSED = new Set([401, 403, 406]);

// The data plane's error replies carry CORS, so the status is known; say what it means.
function answered(code) {
  if (code === 503) return "The channel is offline: it did not start (see its last failures).";
  if (REFUSED.has(code)) return `The stream refused this player (${code}).`;
  return `The stream answered ${code}.`;
}

/**
 * Play an HLS URL in a <video>; returns a stop() function.
 * refresh: optional async () => new URL, asked when the stream refuses the current one
 * (a signed URL that expired); at most a few times in a row.
 */
export async function playHls(video, url, { onError, refresh } = {}) {
  let Hls = null;
  try {
    ({ default: Hls } = await import(PLAYER_URL));
  } catch {
    Hls = null; // not installed: fall back to the browser's own HLS support, if any
  }
  video.hidden = false;
  if (Hls && Hls.isSupported()) {
    // hls.js retries a failed playlist inside its loader, silently; an offline channel's
    // 503 is said at once, while it keeps retrying (1 s doubling to 8 s, six times).
    const offline = (_config, _count, _timeout, response, retry) => {
      if (response && response.code === 503 && onError) onError(`${answered(503)} Retrying…`);
      return retry;
    };
    const manifestLoadPolicy = { default: {
      maxTimeToFirstByteMs: Infinity, maxLoadTimeMs: 20000,
      timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 6, retryDelayMs: 1000, maxRetryDelayMs: 8000, shouldRetry: offline },
    } };
    const hls = new Hls({ liveSyncDurationCount: 2, manifestLoadPolicy, levelLoadingMaxRetry: 6 });
    let retries = 0;
    video.addEventListener("playing", () => { retries = 0; });
    hls.on(Hls.Events.ERROR, async (_event, data) => {
      if (!data.fatal) return;
      const code = data.response && data.response.code;
      if (refresh && REFUSED.has(code) && retries < 3) {
        retries += 1;
        try {
          hls.loadSource(await refresh());
          return;
        } catch {
          // fall through to the message below
        }
      }
      if (onError) onError(code ? answered(code) : `Playback failed (${data.details}${data.error ? `: ${data.error.message}` : ""}).`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
    return () => { hls.destroy(); video.removeAttribute("src"); };
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    video.play().catch(() => {});
    return () => video.removeAttribute("src");
  }
  if (onError) onError("This browser cannot play HLS and the player library is not installed (run ./dev setup).");
  return () => {};
}
