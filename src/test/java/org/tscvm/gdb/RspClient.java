package org.tscvm.gdb;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** The debugger's end of the remote protocol, byte by byte, for tests. */
final class RspClient implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private boolean noAck;

    RspClient(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setSoTimeout(20_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** Sends raw bytes as they are. */
    void sendRaw(String bytes) throws IOException {
        out.write(bytes.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** Sends a packet and returns the ack character ('+' or '-'), or 0 in no-ack mode. */
    char send(String data) throws IOException {
        sendRaw(new String(Rsp.frame(data), StandardCharsets.ISO_8859_1));
        return noAck ? 0 : (char) in.read();
    }

    /** Reads one packet (checking its checksum), acks it, and returns its body as sent (escapes kept). */
    String receive() throws IOException {
        int b;
        while ((b = in.read()) != '$') {
            if (b < 0) {
                throw new IOException("connection closed");
            }
        }
        StringBuilder data = new StringBuilder();
        while ((b = in.read()) != '#') {
            if (b < 0) {
                throw new IOException("connection closed in a packet");
            }
            data.append((char) b);
        }
        String sum = "" + (char) in.read() + (char) in.read();
        if (Integer.parseInt(sum, 16) != Rsp.checksum(data.toString())) {
            throw new IOException("bad checksum " + sum + " on " + data);
        }
        if (!noAck) {
            sendRaw("+");
        }
        return data.toString();
    }

    /** Sends a packet that must be acked and returns the reply. */
    String ask(String data) throws IOException {
        char ack = send(data);
        if (!noAck && ack != '+') {
            throw new IOException("packet " + data + " got ack '" + ack + "'");
        }
        return receive();
    }

    /** Reads one byte: the stub's ack of a packet sent with {@link #sendRaw}. */
    int receiveAck() throws IOException {
        return in.read();
    }

    void noAckFromNowOn() {
        noAck = true;
    }

    /** True once the stub closed the connection. */
    boolean closedByPeer() throws IOException {
        return in.read() < 0;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
