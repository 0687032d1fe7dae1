package org.tscvm.gdb;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One gdb connection: packet framing, checksums and acks (until QStartNoAckMode), Ctrl-C, and
 * the all-stop dance with the {@link DebugTarget}. A reader thread turns the socket's bytes
 * into {@link Input}s; this thread takes them, together with the target's events, from one
 * queue, so packets are only ever handled while the machine is stopped (packets that arrive
 * while it runs wait for the next stop).
 */
final class GdbSession {
    /** What the session's queue holds besides {@link TargetEvent}s. */
    private sealed interface Input {
        record Packet(String data) implements Input {
        }

        record Interrupt() implements Input {
        }

        /** gdb closed the connection, or it broke. */
        record Closed() implements Input {
        }
    }

    private final Socket socket;
    private final DebugTarget target;
    private final GdbStub stub;
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final OutputStream out;
    /** The last packet sent, for a '-' (resend) from gdb. */
    private byte[] lastSent;

    GdbSession(Socket socket, DebugTarget target) throws IOException {
        this.socket = socket;
        this.target = target;
        this.stub = new GdbStub(target);
        this.out = socket.getOutputStream();
    }

    /**
     * Serves the connection until gdb detaches, kills, disconnects or the run ends; true when
     * the run ended (so the server stops listening).
     */
    boolean serve() throws InterruptedException {
        Thread reader = new Thread(this::readPackets, "tscvm-gdb-reader");
        reader.setDaemon(true);
        reader.start();
        target.attach(queue::add);
        Deque<String> deferred = new ArrayDeque<>();
        boolean running = true; // until the attach stop arrives
        boolean initial = true;
        boolean interruptSent = false;
        try {
            while (true) {
                Object item = running || deferred.isEmpty() ? queue.take() : null;
                if (item == null) {
                    item = new Input.Packet(deferred.removeFirst());
                }
                if (item instanceof TargetEvent.Stopped stop) {
                    stub.stopped(stop, interruptSent);
                    running = false;
                    interruptSent = false;
                    if (!initial) {
                        send(stub.stopReply());
                    }
                    initial = false;
                } else if (item instanceof TargetEvent.Ended end) {
                    send(GdbStub.endReply(end));
                    return true;
                } else if (item instanceof Input.Interrupt) {
                    if (running && !initial) {
                        interruptSent = true;
                        target.interrupt(stub.generalVcpu());
                    }
                } else if (item instanceof Input.Closed) {
                    target.detach();
                    return false;
                } else if (item instanceof Input.Packet packet) {
                    if (running) {
                        deferred.addLast(packet.data());
                        continue;
                    }
                    String reply = stub.handle(packet.data());
                    if (reply != null) {
                        send(reply);
                    }
                    switch (stub.next()) {
                        case REPLY -> { }
                        case RESUMED -> running = true;
                        case DETACH -> {
                            target.detach();
                            return false;
                        }
                        case KILL -> {
                            target.kill();
                            return true;
                        }
                    }
                }
            }
        } finally {
            closeQuietly();
            reader.interrupt();
        }
    }

    /** The reader thread: frames, checksums and acks; Ctrl-C outside a packet. */
    private void readPackets() {
        try {
            InputStream in = socket.getInputStream();
            StringBuilder data = new StringBuilder();
            while (true) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                if (b == 0x03) {
                    queue.add(new Input.Interrupt());
                    target.interruptReverse(); // the session's thread may be inside one, deaf to the queue
                } else if (b == '-') {
                    resend();
                } else if (b == '$') {
                    data.setLength(0);
                    while ((b = in.read()) >= 0 && b != '#') {
                        if (data.length() <= GdbStub.PACKET_SIZE) {
                            data.append((char) b);
                        }
                    }
                    int hi = in.read();
                    int lo = in.read();
                    if (lo < 0) {
                        break;
                    }
                    String body = data.toString();
                    boolean intact = data.length() <= GdbStub.PACKET_SIZE && Character.digit(hi, 16) >= 0
                            && Character.digit(lo, 16) >= 0
                            && (Character.digit(hi, 16) << 4 | Character.digit(lo, 16)) == Rsp.checksum(body);
                    if (stub.noAckMode()) {
                        // No acks either way now; a packet longer than we announced is still refused.
                        queue.add(new Input.Packet(data.length() <= GdbStub.PACKET_SIZE ? body : ""));
                    } else if (intact) {
                        ack(true);
                        queue.add(new Input.Packet(body));
                    } else {
                        ack(false);
                    }
                }
                // '+' acks and stray bytes between packets need nothing.
            }
        } catch (IOException e) {
            // The connection broke: the same as a close.
        }
        queue.add(new Input.Closed());
    }

    private void ack(boolean good) throws IOException {
        synchronized (out) {
            out.write(good ? '+' : '-');
            out.flush();
        }
    }

    private void resend() throws IOException {
        synchronized (out) {
            if (lastSent != null && !stub.noAckMode()) {
                out.write(lastSent);
                out.flush();
            }
        }
    }

    private void send(String data) {
        byte[] packet = Rsp.frame(data);
        try {
            synchronized (out) {
                lastSent = packet;
                out.write(packet);
                out.flush();
            }
        } catch (IOException e) {
            // gdb went away; the reader sees the close and ends the session.
        }
    }

    private void closeQuietly() {
        try {
            socket.close();
        } catch (IOException e) {
            // Already closed.
        }
    }
}
