// HLS playback with hls.js: muted autoplay, automatic rendition choice (hls.js ABR), recovery
// from network and media errors with backoff, and the wall time being played
// (EXT-X-PROGRAM-DATE-TIME -> hls.playingDate) for pins shown in step with the video.
import Hls from '/static/vendor/hls.min.mjs';

export class Player {
  // video: <video>; onState(state, text): 'loading' | 'playing' | 'missing' (no playlist yet) |
  // 'retrying' | 'blocked' (autoplay refused) | 'error' | 'vod' (the playlist is a replay) | 'ended'.
  constructor(video, { onState = () => {} } = {}) {
    this.video = video;
    this.onState = onState;
    this.hls = null;
    this.url = '';
    this.retryMs = 1000;
    this.retryTimer = 0;
    video.muted = true;
    video.addEventListener('playing', () => { this.retryMs = 1000; this.onState('playing'); });
    video.addEventListener('ended', () => this.onState('ended'));
  }

  get running() { return this.hls !== null || !!this.video.currentSrc; }

  // Wall time (ms) of the picture on screen, or null when unknown.
  playingDateMs() {
    if (this.hls && this.hls.playingDate) return this.hls.playingDate.getTime();
    if (typeof this.video.getStartDate === 'function') {  // Safari's native HLS
      const start = this.video.getStartDate().getTime();
      if (!Number.isNaN(start)) return start + this.video.currentTime * 1000;
    }
    return null;
  }

  play(url) {
    this.url = url;
    this.stop();
    this.onState('loading');
    if (Hls.isSupported()) {
      const hls = new Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 2, levelLoadingMaxRetry: 4 });
      this.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, () => this.autoplay());
      // A playlist closed with #EXT-X-ENDLIST is the replay of a finished show.
      hls.on(Hls.Events.LEVEL_LOADED, (_, data) => { if (data.details && !data.details.live) this.onState('vod'); });
      hls.on(Hls.Events.ERROR, (_, data) => this.onError(data));
      hls.loadSource(url);
      hls.attachMedia(this.video);
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.video.src = url;
      this.autoplay();
    } else {
      this.onState('error', '你的浏览器不支持播放直播，请换用最新版浏览器');
    }
  }

  autoplay() {
    const p = this.video.play();
    if (p && p.catch) p.catch(() => this.onState('blocked', '点击画面开始播放'));
  }

  onError(data) {
    if (!data.fatal) return;
    const hls = this.hls;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      const missing = data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && data.response && data.response.code === 404;
      this.onState(missing ? 'missing' : 'retrying', missing ? '' : '网络不稳定，正在重新连接…');
      // Start over after a growing pause: the playlist may appear (show starting) or the
      // network may come back.
      this.scheduleRestart();
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && hls) {
      this.onState('retrying', '播放出错，正在恢复…');
      hls.recoverMediaError();
    } else {
      this.onState('retrying', '播放出错，正在重新加载…');
      this.scheduleRestart();
    }
  }

  scheduleRestart() {
    clearTimeout(this.retryTimer);
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10000);
    this.retryTimer = setTimeout(() => this.play(this.url), wait);
  }

  stop() {
    clearTimeout(this.retryTimer);
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
  }
}
