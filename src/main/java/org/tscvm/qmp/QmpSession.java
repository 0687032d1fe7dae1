package org.tscvm.qmp;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.tscvm.json.Json;
import org.tscvm.json.JsonException;

/**
 * One QMP client: the greeting, capabilities negotiation, then commands in order, each
 * answered with its {@code return} or {@code error} (and the client's {@code id}), with events
 * in between. This thread reads and executes; a writer thread sends, so that an event raised on
 * a vCPU thread never waits for a slow client. A client that stops reading until
 * {@link #MAX_QUEUED} messages wait is dropped; one that goes away, even mid-command, only
 * ends its session: the command still completes and the machine runs on.
 */
final class QmpSession {
    static final int MAX_QUEUED = 1024;
    /** The writer's end-of-session marker (compared by identity). */
    private static final String END = new String("end");

    private final SocketChannel channel;
    private final QmpCommands commands;
    private final boolean pretty;
    private final BlockingQueue<String> outbox = new ArrayBlockingQueue<>(MAX_QUEUED + 1);
    private final Thread writer;
    private volatile boolean negotiated;
    private volatile boolean closed;
    /** True while a command runs and its reply is queued; {@link #finish} waits for it. */
    private boolean busy;

    QmpSession(SocketChannel channel, QmpCommands commands, boolean pretty) {
        this.channel = channel;
        this.commands = commands;
        this.pretty = pretty;
        this.writer = new Thread(this::writeLoop, "tscvm-qmp-writer");
        writer.setDaemon(true);
    }

    /** Serves the client until it disconnects or the session is finished. */
    void serve() {
        writer.start();
        send(Map.of("QMP", QmpCommands.ordered("version", QmpCommands.VERSION, "capabilities", List.of())));
        QmpReader reader = new QmpReader(new ChannelInput(channel));
        try {
            QmpReader.Item item;
            while (!closed && (item = reader.next()) != null) {
                if (item instanceof QmpReader.Item.Error e) {
                    send(error(QmpError.GENERIC, e.desc(), null, false));
                } else {
                    request(((QmpReader.Item.Text) item).json());
                }
            }
        } catch (IOException e) {
            // The client went away (or the server closed the connection): the session ends.
        } finally {
            closed = true;
            outbox.offer(END);
        }
    }

    /** An event for this client (dropped before negotiation, as QMP says). */
    void event(String json) {
        if (negotiated) {
            enqueue(json);
        }
    }

    private void request(String text) {
        Object parsed;
        try {
            parsed = Json.parseQmp(text);
        } catch (JsonException e) {
            send(error(QmpError.GENERIC, e.getMessage(), null, false));
            return;
        }
        if (!(parsed instanceof Map<?, ?>)) {
            send(error(QmpError.GENERIC, "QMP input must be a JSON object", null, false));
            return;
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> message = (Map<String, Object>) parsed;
        Object id = message.get("id");
        boolean hasId = message.containsKey("id");
        synchronized (this) {
            busy = true;
        }
        try {
            Object reply;
            try {
                reply = ok(execute(message), id, hasId);
            } catch (QmpError e) {
                reply = error(e.errorClass(), e.getMessage(), id, hasId);
            } catch (RuntimeException bug) {
                reply = error(QmpError.GENERIC, "internal error in tscvm: " + bug, id, hasId);
            }
            send(reply); // before finish() may close: quit's reply must reach the client
        } finally {
            synchronized (this) {
                busy = false;
                notifyAll();
            }
        }
    }

    private Object execute(Map<String, Object> message) throws QmpError {
        for (String key : message.keySet()) {
            if (!key.equals("execute") && !key.equals("exec-oob") && !key.equals("arguments") && !key.equals("id")) {
                throw QmpError.generic("QMP input member '" + key + "' is unexpected");
            }
        }
        if (message.containsKey("exec-oob")) {
            throw QmpError.generic("The command " + message.get("exec-oob") + " does not support OOB");
        }
        if (!message.containsKey("execute")) {
            throw QmpError.generic("QMP input lacks member 'execute'");
        }
        if (!(message.get("execute") instanceof String name)) {
            throw QmpError.generic("QMP input member 'execute' must be a string");
        }
        Object args = message.get("arguments");
        if (message.containsKey("arguments") && !(args instanceof Map)) {
            throw QmpError.generic("QMP input member 'arguments' must be an object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> arguments = (Map<String, Object>) args;
        if (!negotiated) {
            if (!name.equals("qmp_capabilities")) {
                throw new QmpError(QmpError.COMMAND_NOT_FOUND, "Expecting capabilities negotiation with 'qmp_capabilities'");
            }
            negotiate(arguments);
            return Map.of();
        }
        return commands.execute(name, arguments);
    }

    /** qmp_capabilities: tscvm offers no capability (no out-of-band execution), so "enable" may list none. */
    private void negotiate(Map<String, Object> arguments) throws QmpError {
        if (arguments != null) {
            for (String key : arguments.keySet()) {
                if (!key.equals("enable")) {
                    throw QmpError.generic("Parameter '" + key + "' is unexpected");
                }
            }
            Object enable = arguments.get("enable");
            if (enable != null && !(enable instanceof List)) {
                throw QmpError.generic("Invalid parameter type for 'enable', expected: array");
            }
            if (enable != null) {
                for (Object capability : (List<?>) enable) {
                    if ("oob".equals(capability)) {
                        throw QmpError.generic("Capability 'oob' not available");
                    }
                    throw QmpError.generic("Parameter 'enable' does not accept value '" + capability + "'");
                }
            }
        }
        negotiated = true;
    }

    private static Map<String, Object> ok(Object value, Object id, boolean hasId) {
        Map<String, Object> reply = QmpCommands.ordered("return", value);
        if (hasId) {
            reply.put("id", id);
        }
        return reply;
    }

    private static Map<String, Object> error(String errorClass, String desc, Object id, boolean hasId) {
        Map<String, Object> reply = QmpCommands.ordered("error", QmpCommands.ordered("class", errorClass, "desc", desc));
        if (hasId) {
            reply.put("id", id);
        }
        return reply;
    }

    private void send(Object message) {
        enqueue(pretty ? Json.writePretty(message) : Json.write(message));
    }

    private void enqueue(String json) {
        if (closed) {
            return;
        }
        if (!outbox.offer(json)) {
            // The client reads nothing: drop it rather than hold the machine's events.
            closed = true;
            closeChannel();
        }
    }

    private void writeLoop() {
        try {
            while (true) {
                String message = outbox.take();
                if (message == END) {
                    return;
                }
                ByteBuffer bytes = ByteBuffer.wrap((message + "\r\n").getBytes(StandardCharsets.US_ASCII));
                while (bytes.hasRemaining()) {
                    channel.write(bytes);
                }
            }
        } catch (IOException | InterruptedException e) {
            // The client went away; the reader sees it too.
        } finally {
            closeChannel();
        }
    }

    /**
     * Ends the session (the run is over): waits up to {@code millis} for a running command to
     * answer and for what is queued to be sent, then closes the connection.
     */
    void finish(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        try {
            synchronized (this) {
                while (busy && System.nanoTime() < deadline) {
                    wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                }
            }
            closed = true;
            outbox.offer(END);
            writer.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeChannel();
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            // Already gone.
        }
    }

    /**
     * The channel's bytes as a stream. Not Channels.newInputStream: its reads hold the channel's
     * blocking lock, which would keep the writer thread from sending while a read waits.
     */
    private static final class ChannelInput extends InputStream {
        private final SocketChannel channel;
        private final ByteBuffer buffer = ByteBuffer.allocate(4096);

        ChannelInput(SocketChannel channel) {
            this.channel = channel;
            buffer.flip();
        }

        @Override
        public int read() throws IOException {
            if (!buffer.hasRemaining()) {
                buffer.clear();
                int n = channel.read(buffer);
                buffer.flip();
                if (n < 0) {
                    return -1;
                }
                if (n == 0) {
                    return read();
                }
            }
            return buffer.get() & 0xff;
        }
    }
}
