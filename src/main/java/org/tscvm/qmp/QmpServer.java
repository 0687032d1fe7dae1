package org.tscvm.qmp;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.tscvm.TscvmException;
import org.tscvm.json.Json;

/**
 * A QMP server for a {@link MonitorTarget} ({@code -qmp unix:PATH,server=on,wait=off} or
 * {@code -qmp tcp:HOST:PORT,...}): listens on one socket and serves one client at a time,
 * then the next; events go to the client connected at the time. It stops when the run ends
 * ({@link #close}), after the last reply and the SHUTDOWN event have been sent.
 *
 * <pre>{@code
 * QmpServer server = QmpServer.start(QmpAddress.parse("unix:/tmp/qmp.sock,server=on,wait=off"), target, false);
 * ... machine.run() ...
 * server.close();
 * }</pre>
 */
public final class QmpServer implements AutoCloseable {
    /** How long {@link #close} waits for a running command's reply to reach the client. */
    private static final long CLOSE_WAIT_MILLIS = 2_000;

    private final java.nio.channels.ServerSocketChannel listener;
    private final QmpAddress address;
    private final QmpCommands commands;
    private final Migration migration;
    private final boolean pretty;
    private final Thread thread;
    private final CountDownLatch firstClient = new CountDownLatch(1);
    private volatile QmpSession session;
    private volatile boolean closing;

    private QmpServer(java.nio.channels.ServerSocketChannel listener, QmpAddress address, MonitorTarget target,
                      boolean pretty) {
        this.listener = listener;
        this.address = address;
        this.pretty = pretty;
        this.migration = new Migration(target, this::emit);
        this.commands = new QmpCommands(target, migration, this::emit);
        this.thread = new Thread(this::acceptLoop, "tscvm-qmp");
        thread.setDaemon(true);
        target.setListener(this::machineEvent);
    }

    /**
     * Binds {@code address} and starts serving; {@code pretty} indents replies (-qmp-pretty).
     *
     * @throws TscvmException if it cannot listen there (in use, a file in the way, unknown host)
     */
    public static QmpServer start(QmpAddress address, MonitorTarget target, boolean pretty) {
        java.nio.channels.ServerSocketChannel channel = null;
        try {
            if (address.path() != null) {
                removeStaleSocket(address);
                channel = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                channel.bind(UnixDomainSocketAddress.of(address.path()), 1);
            } else {
                channel = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.INET);
                channel.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
                channel.bind(new InetSocketAddress(InetAddress.getByName(address.host()), address.port()), 1);
            }
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // Nothing more to release.
                }
            }
            throw new TscvmException("cannot listen for QMP on " + address + ": " + e.getMessage());
        }
        QmpServer server = new QmpServer(channel, address, target, pretty);
        server.thread.start();
        return server;
    }

    /** QEMU replaces a socket left behind by an earlier run; anything else at the path stays. */
    private static void removeStaleSocket(QmpAddress address) throws IOException {
        if (!Files.exists(address.path(), LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        BasicFileAttributes a = Files.readAttributes(address.path(), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isOther()) {
            throw new IOException(address.path() + " exists and is not a socket");
        }
        Files.delete(address.path());
    }

    /** The TCP port it listens on (useful with port 0), or -1 on a Unix socket. */
    public int port() {
        try {
            return listener.getLocalAddress() instanceof InetSocketAddress inet ? inet.getPort() : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    public QmpAddress address() {
        return address;
    }

    /** The machine's state as a stream, for migrate and migrate-incoming (without it they answer that tscvm cannot). */
    public void setMigrationTarget(MigrationTarget target) {
        migration.setTarget(target);
    }

    /**
     * -incoming {@code uri}: the machine, held by the caller, waits for its state from
     * {@code uri} (tcp:, file:, exec:, or defer for migrate-incoming) and then runs if
     * {@code autostart}. A listener is bound and a file opened before this returns.
     *
     * @throws TscvmException for a URI tscvm cannot take or a source it cannot open
     */
    public void expectIncoming(String uri, boolean autostart) {
        try {
            migration.expectIncoming(uri, autostart);
        } catch (QmpError e) {
            throw new TscvmException("-incoming " + uri + ": " + e.getMessage());
        }
    }

    /** Waits until the first client has connected (QEMU's wait=on). */
    public void awaitFirstClient() throws InterruptedException {
        firstClient.await();
    }

    private void acceptLoop() {
        try {
            while (!closing) {
                java.nio.channels.SocketChannel client = listener.accept();
                QmpSession s = new QmpSession(client, commands, pretty);
                synchronized (this) {
                    if (closing) {
                        client.close(); // connected as the run ended: nobody would close it
                        return;
                    }
                    session = s;
                }
                firstClient.countDown();
                try {
                    s.serve();
                } finally {
                    session = null;
                }
            }
        } catch (IOException e) {
            // The listener was closed: the run is over.
        }
    }

    private void machineEvent(MonitorTarget.Event e) {
        if (e instanceof MonitorTarget.Event.Reset r) {
            emit("RESET", QmpCommands.ordered("guest", r.guest(), "reason", r.reason()));
        } else if (e instanceof MonitorTarget.Event.Shutdown s) {
            emit("SHUTDOWN", QmpCommands.ordered("guest", s.guest(), "reason", s.reason()));
        }
    }

    /** Sends event {@code name} with {@code data} (null: none) to the client, stamped now. */
    void emit(String name, Map<String, Object> data) {
        QmpSession s = session;
        if (s == null) {
            return;
        }
        Instant now = Instant.now();
        Map<String, Object> event = QmpCommands.ordered("timestamp",
                QmpCommands.ordered("seconds", now.getEpochSecond(), "microseconds", (long) (now.getNano() / 1000)),
                "event", name);
        if (data != null) {
            event.put("data", data);
        }
        s.event(pretty ? Json.writePretty(event) : Json.write(event));
    }

    /** Stops listening, after the connected client has had the reply to a running command and the events so far. */
    @Override
    public void close() {
        QmpSession s;
        synchronized (this) {
            closing = true;
            s = session;
        }
        if (s != null) {
            s.finish(CLOSE_WAIT_MILLIS);
        }
        try {
            listener.close();
        } catch (IOException e) {
            // Nothing more to release.
        }
        if (address.path() != null) {
            try {
                Files.deleteIfExists(address.path());
            } catch (IOException e) {
                // A socket file left behind is replaced by the next run.
            }
        }
        firstClient.countDown();
    }
}
