// SPDX-License-Identifier: Apache-2.0
// Portal's WebSocket for pages on the browser path (docs/browser.md, ADR 0010). The worker puts
// this script at the top of every HTML page it proxies. Same-origin `new WebSocket(...)` calls
// then go to the worker through a MessageChannel; the worker opens an end-to-end encrypted
// connection to the service and speaks the WebSocket protocol over it. Messages stream both
// ways, with no polling. Other origins keep the browser's own WebSocket.
(() => {
  const Native = self.WebSocket;
  if (!Native || !navigator.serviceWorker || Native.__portal) return;
  const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;

  class PortalWebSocket extends EventTarget {
    constructor(url, protocols) {
      const target = new URL(url, location.href);
      if (target.protocol === "http:") target.protocol = "ws:";
      if (target.protocol === "https:") target.protocol = "wss:";
      if (target.host !== location.host || !navigator.serviceWorker.controller) {
        return new Native(url, protocols);
      }
      super();
      this.url = target.href;
      this.readyState = CONNECTING;
      this.protocol = "";
      this.extensions = "";
      this.bufferedAmount = 0;
      this.binaryType = "blob";
      this.onopen = this.onmessage = this.onerror = this.onclose = null;
      const channel = new MessageChannel();
      this._port = channel.port1;
      this._port.onmessage = (ev) => this._event(ev.data);
      const list = protocols === undefined ? [] : [].concat(protocols);
      navigator.serviceWorker.controller.postMessage(
        { type: "portal:websocket", path: target.pathname + target.search, protocols: list },
        [channel.port2]);
    }

    _fire(type, init) {
      const ev = type === "message" ? new MessageEvent("message", init)
        : type === "close" ? new CloseEvent("close", init) : new Event(type);
      const handler = this["on" + type];
      if (typeof handler === "function") handler.call(this, ev);
      this.dispatchEvent(ev);
    }

    _event(m) {
      if (m.type === "open") {
        this.readyState = OPEN;
        this.protocol = m.protocol || "";
        this._fire("open");
      } else if (m.type === "message") {
        let data = m.data;
        if (typeof data !== "string" && this.binaryType === "blob") data = new Blob([data]);
        this._fire("message", { data, origin: location.origin });
      } else if (m.type === "sent") {
        this.bufferedAmount = Math.max(0, this.bufferedAmount - m.bytes);
      } else if (m.type === "close") {
        if (this.readyState === CLOSED) return;
        this.readyState = CLOSED;
        if (m.error) this._fire("error");
        this._fire("close", { code: m.code || 1006, reason: m.reason || "", wasClean: !!m.clean });
        this._port.close();
      }
    }

    send(data) {
      if (this.readyState === CONNECTING) throw new DOMException("still connecting", "InvalidStateError");
      if (this.readyState !== OPEN) return;
      const post = (payload, bytes) => {
        this.bufferedAmount += bytes;
        this._port.postMessage({ type: "send", data: payload });
      };
      if (typeof data === "string") post(data, new TextEncoder().encode(data).length);
      else if (data instanceof Blob) data.arrayBuffer().then((b) => post(b, b.byteLength));
      else if (ArrayBuffer.isView(data)) post(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), data.byteLength);
      else post(data, data.byteLength);
    }

    close(code, reason) {
      if (this.readyState >= CLOSING) return;
      this.readyState = CLOSING;
      this._port.postMessage({ type: "close", code: code === undefined ? 1000 : code, reason: reason || "" });
    }
  }
  Object.assign(PortalWebSocket, { CONNECTING, OPEN, CLOSING, CLOSED, __portal: true });
  self.WebSocket = PortalWebSocket;
})();
