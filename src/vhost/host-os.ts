/** HostOs on the native addon: real mmap, eventfds and fd watching for the vhost-user backend. */
import { closeFd, eventfdRead, eventfdWrite, mmapFd, munmap, watchFd } from '../native/index.js';
import type { HostOs } from './backend.js';

export const nativeHostOs: HostOs = {
  mmap(fd, offset, length) {
    return new Uint8Array(mmapFd(fd, offset, length, true));
  },
  munmap(bytes) {
    munmap(bytes.buffer as ArrayBuffer);
  },
  close(fd) {
    closeFd(fd);
  },
  signal(fd) {
    // Eventfd (QEMU) or socketpair end (UML): both take one 8-byte write. A full socket means the
    // frontend has unread notifications already, so a refused write loses nothing.
    eventfdWrite(fd, 1);
  },
  drain(fd) {
    // Kick fds are eventfds: one read takes the whole counter.
    eventfdRead(fd);
  },
  watch(fd, onReadable) {
    const watcher = watchFd(fd, (error) => {
      if (!error) onReadable();
    });
    return { stop: () => watcher.stop() };
  },
};
