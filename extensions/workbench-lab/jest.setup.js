// Browser APIs jsdom lacks, as @jupyterlab/testutils' jest shim provides.
/* global globalThis */
if (typeof window !== 'undefined') {
  if (typeof globalThis.DragEvent === 'undefined') {
    globalThis.DragEvent = class DragEvent extends MouseEvent {
      constructor(type, init = {}) {
        super(type, init);
        this.dataTransfer = init.dataTransfer ?? null;
      }
    };
  }
  if (typeof window.matchMedia === 'undefined') {
    window.matchMedia = query => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false
    });
  }
  if (typeof globalThis.fetch === 'undefined') {
    globalThis.fetch = () => Promise.reject(new Error('fetch is not available in tests'));
    globalThis.Request = class Request {};
    globalThis.Headers = class Headers {};
  }
  if (!navigator.clipboard) {
    Object.defineProperty(navigator, 'clipboard', {
      configurable: true,
      value: {
        writeText: () => Promise.resolve(),
        readText: () => Promise.resolve(''),
        write: () => Promise.resolve(),
        read: () => Promise.resolve([])
      }
    });
  }
}
