package org.tscvm.qmp;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.tscvm.json.Json;
import org.tscvm.json.JsonException;

/**
 * A test's QMP client: whole messages in, replies matched by id, events kept in arrival
 * order. Every wait is bounded, so a silent server fails the test instead of hanging it.
 */
final class QmpClient implements AutoCloseable {
    static final long WAIT_SECONDS = 20;
    private static final Object CLOSED = new Object();

    private final SocketChannel channel;
    private final BlockingQueue<Object> incoming = new LinkedBlockingQueue<>();
    /** Every event received, in order. */
    final List<Map<String, Object>> events = new ArrayList<>();
    final Map<String, Object> greeting;
    private long nextId = 1;

    private QmpClient(SocketChannel channel) throws IOException, InterruptedException {
        this.channel = channel;
        Thread reader = new Thread(this::readLines, "qmp-test-client");
        reader.setDaemon(true);
        reader.start();
        greeting = next();
    }

    static QmpClient unix(Path socket) throws IOException, InterruptedException {
        return connect(UnixDomainSocketAddress.of(socket), StandardProtocolFamily.UNIX);
    }

    static QmpClient tcp(int port) throws IOException, InterruptedException {
        return connect(new InetSocketAddress("127.0.0.1", port), StandardProtocolFamily.INET);
    }

    private static QmpClient connect(SocketAddress address, StandardProtocolFamily family)
            throws IOException, InterruptedException {
        // A server in another process may have its socket file before it listens: retry a refusal.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (true) {
            SocketChannel channel = SocketChannel.open(family);
            try {
                channel.connect(address);
                return new QmpClient(channel);
            } catch (java.net.ConnectException e) {
                channel.close();
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    /** Connects and negotiates capabilities. */
    static QmpClient negotiated(Path socket) throws IOException, InterruptedException {
        QmpClient c = unix(socket);
        Map<String, Object> reply = c.execute("qmp_capabilities", null);
        if (!reply.containsKey("return")) {
            throw new AssertionError("negotiation failed: " + reply);
        }
        return c;
    }

    /** Whole messages, newlines or not (-qmp-pretty spreads one over many lines), framed as the server frames them. */
    private void readLines() {
        try {
            QmpReader in = new QmpReader(new java.io.BufferedInputStream(Channels.newInputStream(channel)));
            QmpReader.Item item;
            while ((item = in.next()) != null) {
                incoming.add(item instanceof QmpReader.Item.Text t ? t.json() : item.toString());
            }
        } catch (IOException e) {
            // closed
        } finally {
            incoming.add(CLOSED);
        }
    }

    /** The next message, or an AssertionError after {@link #WAIT_SECONDS} or at the end of the stream. */
    @SuppressWarnings("unchecked")
    Map<String, Object> next() throws InterruptedException {
        Object line = incoming.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        if (line == null) {
            throw new AssertionError("no message from the QMP server in " + WAIT_SECONDS + " s");
        }
        if (line == CLOSED) {
            incoming.add(CLOSED);
            throw new AssertionError("the QMP server closed the connection");
        }
        try {
            return (Map<String, Object>) Json.parseQmp((String) line);
        } catch (JsonException e) {
            throw new AssertionError("the server sent bad JSON: " + line, e);
        }
    }

    /** True when the server closed the connection within the wait. */
    boolean closedByServer() throws InterruptedException {
        while (true) {
            Object line = incoming.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            if (line == null) {
                return false;
            }
            if (line == CLOSED) {
                return true;
            }
        }
    }

    void send(String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    /** Sends {@code name} with {@code args} (null: none) and a fresh id; returns its reply, keeping events that come first. */
    Map<String, Object> execute(String name, Map<String, Object> args) throws IOException, InterruptedException {
        long id = nextId++;
        Map<String, Object> request = QmpCommands.ordered("execute", name, "id", id);
        if (args != null) {
            request.put("arguments", args);
        }
        send(Json.write(request) + "\n");
        return replyTo(id);
    }

    /** The reply carrying {@code id}; events before it are kept. */
    Map<String, Object> replyTo(Object id) throws InterruptedException {
        while (true) {
            Map<String, Object> m = next();
            if (m.containsKey("event")) {
                events.add(m);
            } else if (id == null ? !m.containsKey("id") : id.equals(m.get("id"))) {
                return m;
            } else {
                throw new AssertionError("a reply for another request: " + m);
            }
        }
    }

    /** The next reply without an id (a parse error, or a request sent without one). */
    Map<String, Object> replyWithoutId() throws InterruptedException {
        return replyTo(null);
    }

    /** The first event called {@code name}, from those received or still to come. */
    Map<String, Object> awaitEvent(String name) throws InterruptedException {
        for (Map<String, Object> e : events) {
            if (name.equals(e.get("event"))) {
                events.remove(e);
                return e;
            }
        }
        while (true) {
            Map<String, Object> m = next();
            if (name.equals(m.get("event"))) {
                return m;
            }
            if (m.containsKey("event")) {
                events.add(m);
            }
        }
    }

    /** A JSON object of a reply, as the reader gives it. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    /**
     * Polls query-migrate until its status is {@code status}; an AssertionError with the last
     * answer after {@code seconds}, or at once on "failed" when that is not the status awaited.
     */
    Map<String, Object> awaitMigration(String status, long seconds) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            Map<String, Object> info = map(returned(execute("query-migrate", null)));
            if (status.equals(info.get("status"))) {
                return info;
            }
            if (System.nanoTime() > deadline || "failed".equals(info.get("status"))) {
                throw new AssertionError("migration never reached " + status + ": " + info);
            }
            Thread.sleep(10);
        }
    }

    /** The return value of a successful reply, or an AssertionError showing the error. */
    static Object returned(Map<String, Object> reply) {
        if (!reply.containsKey("return")) {
            throw new AssertionError("expected a return, got " + reply);
        }
        return reply.get("return");
    }

    /** The error class of an error reply. */
    @SuppressWarnings("unchecked")
    static String errorClass(Map<String, Object> reply) {
        if (!reply.containsKey("error")) {
            throw new AssertionError("expected an error, got " + reply);
        }
        return (String) ((Map<String, Object>) reply.get("error")).get("class");
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** A TCP port free on this host now (for a destination's -incoming). */
    static int freePort() throws IOException {
        try (ServerSocket free = new ServerSocket(0)) {
            return free.getLocalPort();
        }
    }
}
