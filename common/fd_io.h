#pragma once
// Whole reads and writes on a file descriptor, retrying short transfers and EINTR: for
// start-up and control code (outputs, the spool, the Hyperscan cache), never the data path.
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace flowscribe {

// Writes all N bytes of DATA. Returns 0, or the errno of the write that failed (EIO if one
// wrote nothing); *WRITTEN, if given, says how many bytes went.
inline int write_all(int fd, const void* data, size_t n, size_t* written = nullptr) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  int err = 0;
  while (done < n) {
    const ssize_t w = ::write(fd, p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (w == 0) {  // a regular fd never does this; do not spin if one does
      err = EIO;
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (written != nullptr) *written = done;
  return err;
}

// Reads N bytes into BUF unless the file ends first. Returns the bytes read, or -1 with errno
// set if a read failed.
inline ssize_t read_full(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::read(fd, p + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace flowscribe
