package org.tscvm.qmp;

import java.nio.file.Path;
import org.tscvm.TscvmException;

/**
 * Where a QMP server listens, from QEMU's {@code -qmp} chardev spelling:
 * {@code unix:PATH,server=on[,wait=on|off]} or {@code tcp:[HOST]:PORT,server=on[,wait=on|off]}
 * (also the older {@code server,nowait}). As in QEMU, {@code wait} defaults to on: the machine
 * does not start until the first client connects.
 *
 * @param path a Unix socket's path, or null for TCP
 * @param host TCP host (default 127.0.0.1), or null for a Unix socket
 * @param port TCP port (0: any free port)
 */
public record QmpAddress(Path path, String host, int port, boolean waitForClient) {
    public static final String DEFAULT_HOST = "127.0.0.1";

    /** Parses the spelling above; the message of the exception says what is wrong. */
    public static QmpAddress parse(String spec) {
        String[] parts = spec.split(",", -1);
        String where = parts[0];
        boolean server = false;
        boolean wait = true;
        for (int i = 1; i < parts.length; i++) {
            switch (parts[i]) {
                case "server", "server=on", "server=yes" -> server = true;
                case "server=off", "server=no" -> server = false;
                case "nowait", "wait=off", "wait=no" -> wait = false;
                case "wait", "wait=on", "wait=yes" -> wait = true;
                default -> throw new TscvmException("-qmp " + spec + ": unknown option '" + parts[i]
                        + "' (tscvm takes server=on and wait=on|off)");
            }
        }
        if (!server) {
            throw new TscvmException("-qmp " + spec + ": tscvm's monitor only listens: add server=on (and wait=off"
                    + " to start without waiting for a client)");
        }
        if (where.startsWith("unix:")) {
            String path = where.substring(5);
            if (path.isEmpty()) {
                throw new TscvmException("-qmp " + spec + ": unix: needs a socket path");
            }
            return new QmpAddress(Path.of(path), null, 0, wait);
        }
        if (where.startsWith("tcp:")) {
            String address = where.substring(4);
            int colon = address.lastIndexOf(':');
            String port = colon < 0 ? "" : address.substring(colon + 1);
            if (colon < 0 || port.isEmpty() || port.length() > 5 || !port.chars().allMatch(Character::isDigit)
                    || Integer.parseInt(port) > 0xffff) {
                throw new TscvmException("-qmp " + spec + ": expected tcp:[HOST]:PORT with a port from 0 to 65535");
            }
            String host = address.substring(0, colon);
            return new QmpAddress(null, host.isEmpty() ? DEFAULT_HOST : host, Integer.parseInt(port), wait);
        }
        throw new TscvmException("-qmp " + spec + ": expected unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off");
    }

    @Override
    public String toString() {
        return path != null ? "unix:" + path : "tcp:" + host + ":" + port;
    }
}
