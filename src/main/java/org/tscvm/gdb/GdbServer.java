package org.tscvm.gdb;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import org.tscvm.TscvmException;

/**
 * A gdb remote-protocol server for a {@link DebugTarget} ({@code -s}, {@code -gdb tcp::PORT}):
 * listens on one TCP port and serves one debugger at a time; after a detach or a dropped
 * connection it takes the next. It stops listening when the run ends or gdb kills it.
 */
public final class GdbServer implements AutoCloseable {
    /** How long {@link #close} waits for the session to tell gdb how the run ended. */
    private static final long CLOSE_WAIT_MILLIS = 2_000;

    private final ServerSocket listener;
    private final DebugTarget target;
    private final Thread thread;
    /** True while a debugger is connected. */
    private volatile boolean serving;

    private GdbServer(ServerSocket listener, DebugTarget target) {
        this.listener = listener;
        this.target = target;
        this.thread = new Thread(this::acceptLoop, "tscvm-gdb");
        thread.setDaemon(true);
    }

    /**
     * Binds {@code host:port} (port 0: any free port, see {@link #port()}) and starts serving.
     *
     * @throws TscvmException if the address cannot be bound (in use, not local, unknown host)
     */
    public static GdbServer start(String host, int port, DebugTarget target) {
        ServerSocket socket = null;
        try {
            socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(host), port), 1);
        } catch (IOException | SecurityException e) {
            closeQuietly(socket);
            throw new TscvmException("cannot listen for gdb on tcp:" + host + ":" + port + ": " + e.getMessage());
        }
        GdbServer server = new GdbServer(socket, target);
        server.thread.start();
        return server;
    }

    /** The port it listens on. */
    public int port() {
        return listener.getLocalPort();
    }

    private void acceptLoop() {
        try {
            while (true) {
                Socket socket = listener.accept();
                socket.setTcpNoDelay(true);
                serving = true;
                try {
                    if (new GdbSession(socket, target).serve()) {
                        return;
                    }
                } finally {
                    serving = false;
                }
            }
        } catch (IOException e) {
            // The listener was closed: the run is over.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            closeQuietly(listener);
        }
    }

    /** Stops listening, after giving a connected gdb the run's end. */
    @Override
    public void close() {
        try {
            if (serving) {
                thread.join(CLOSE_WAIT_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(listener);
        thread.interrupt();
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // Nothing more to release.
            }
        }
    }
}
