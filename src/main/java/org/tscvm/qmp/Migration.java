package org.tscvm.qmp;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.tscvm.snapshot.PrecopyFormat;
import org.tscvm.snapshot.PrecopySender;
import org.tscvm.snapshot.SnapshotException;

/**
 * QMP's migration: {@code migrate} (the state out to {@code tcp:HOST:PORT}, {@code file:PATH}
 * or {@code exec:CMD}'s standard input), {@code migrate-incoming} and {@code -incoming} (the
 * state in from the same places, or {@code defer}), {@code query-migrate} and the MIGRATION
 * events (with the "events" capability on, as in QEMU), {@code migrate-set-parameters} and
 * {@code query-migrate-parameters} (downtime-limit). Over tcp: the migration is pre-copy
 * (docs/migration-stream.md): RAM goes while the guest runs, round after round, until the rest
 * fits the downtime limit; then the machine stops (STOP), the rest goes, and the destination
 * answers once it has loaded it. To a file or a command it is stop-and-copy: the machine stops
 * and its whole state is written as a snapshot. Either way the source stays stopped
 * ("postmigrate") unless the migration fails or is cancelled ({@code migrate_cancel}), when it
 * runs on if it ran before; stopped before, it stays stopped, in "postmigrate" if the end came
 * in the final phase (the stopped last round, or a file or command being written), as QEMU's.
 * The destination holds its vCPUs ("inmigrate") until the state is loaded, and over tcp: until
 * the source's word that it counts the migration complete, then runs unless started with -S;
 * so a cancel can never leave the guest running on both sides.
 */
final class Migration {
    /** QAPI MigrationStatus values tscvm goes through. */
    enum Status {
        NONE("none"), SETUP("setup"), ACTIVE("active"), COMPLETED("completed"), FAILED("failed"),
        CANCELLING("cancelling"), CANCELLED("cancelled");

        final String qapiName;

        Status(String qapiName) {
            this.qapiName = qapiName;
        }
    }

    /** Where a stream goes or comes from. */
    sealed interface Endpoint {
        record Tcp(String host, int port) implements Endpoint {
        }

        record File(Path path) implements Endpoint {
        }

        record Exec(String command) implements Endpoint {
        }
    }

    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;
    /** How long a pre-copy source waits for the destination to load the last state, and the destination for the source's word. */
    private static final int ANSWER_TIMEOUT_MILLIS = 60_000;
    /** QEMU's default downtime-limit, and its largest (2000 s). */
    static final long DEFAULT_DOWNTIME_LIMIT_MILLIS = 300;
    static final long MAX_DOWNTIME_LIMIT_MILLIS = 2_000_000;

    private final MonitorTarget machine;
    private final BiConsumer<String, Map<String, Object>> emit;
    private volatile MigrationTarget target;
    private boolean events;
    private Status status = Status.NONE;
    private long startNanos;
    private long setupMillis;
    private long totalMillis = -1;
    private long downtimeMillis = -1;
    private String errorDesc;
    /** The source completed and has not run since: "postmigrate". */
    private boolean postmigrate;
    /** -incoming was given and no state has been loaded yet: "inmigrate". */
    private boolean incomingExpected;
    /** -incoming defer: migrate-incoming names the source. */
    private boolean incomingDeferred;
    private boolean autostart;
    private volatile long downtimeLimitMillis = DEFAULT_DOWNTIME_LIMIT_MILLIS;
    /** The pre-copy figures of the last round, for query-migrate's "ram"; null without a pre-copy. */
    private PrecopySender.Progress progress;
    /** The source's guest is stopped for the end of a migration: "finish-migrate". */
    private boolean finishing;
    /** The migration under way is this machine's outgoing one (migrate_cancel acts on no other). */
    private boolean outgoing;
    /** The outgoing migration's open destination, until it commits: what migrate_cancel breaks off. */
    private Sink cancellable;

    Migration(MonitorTarget machine, BiConsumer<String, Map<String, Object>> emit) {
        this.machine = machine;
        this.emit = emit;
    }

    /** The machine's state stream; until it is set, migration commands answer that tscvm cannot migrate. */
    void setTarget(MigrationTarget newTarget) {
        target = newTarget;
    }

    void register(QmpCommands commands) {
        commands.add("migrate", List.of(QmpCommands.Arg.required("uri", QmpCommands.ArgType.STRING),
                QmpCommands.Arg.optional("detach", QmpCommands.ArgType.BOOL)), args -> {
                    migrate((String) args.get("uri"));
                    return Map.of();
                });
        commands.add("migrate_cancel", List.of(), args -> {
            cancel();
            return Map.of();
        });
        commands.add("migrate-incoming", List.of(QmpCommands.Arg.required("uri", QmpCommands.ArgType.STRING)), args -> {
            migrateIncoming((String) args.get("uri"));
            return Map.of();
        });
        commands.add("query-migrate", List.of(), args -> query());
        commands.add("migrate-set-capabilities", List.of(QmpCommands.Arg.required("capabilities", QmpCommands.ArgType.ARRAY)),
                args -> {
                    setCapabilities((List<?>) args.get("capabilities"));
                    return Map.of();
                });
        commands.add("migrate-set-parameters",
                List.of(QmpCommands.Arg.optional("downtime-limit", QmpCommands.ArgType.INT)), args -> {
                    setDowntimeLimit((Long) args.get("downtime-limit"));
                    return Map.of();
                });
        commands.add("query-migrate-parameters", List.of(),
                args -> QmpCommands.ordered("downtime-limit", downtimeLimitMillis));
        commands.add("query-migrate-capabilities", List.of(),
                args -> List.of(QmpCommands.ordered("capability", "events", "state", eventsOn())));
    }

    /** The run state as migration colours it: inmigrate before the state arrived, postmigrate after it left. */
    synchronized MonitorTarget.RunState runState(MonitorTarget.RunState machineState) {
        if (machineState == MonitorTarget.RunState.SHUTDOWN) {
            return machineState;
        }
        if (incomingExpected) {
            return MonitorTarget.RunState.INMIGRATE;
        }
        if (machineState == MonitorTarget.RunState.RUNNING) {
            postmigrate = false;
        }
        if (status == Status.ACTIVE && finishing) {
            return MonitorTarget.RunState.FINISH_MIGRATE;
        }
        return postmigrate ? MonitorTarget.RunState.POSTMIGRATE : machineState;
    }

    /** cont is refused while the state has not arrived. */
    synchronized void checkCont() throws QmpError {
        if (incomingExpected) {
            throw QmpError.generic("Migration is not finalized yet: the machine's state has not arrived");
        }
        postmigrate = false;
    }

    private synchronized boolean eventsOn() {
        return events;
    }

    private synchronized void setCapabilities(List<?> capabilities) throws QmpError {
        Boolean eventsState = null;
        for (Object c : capabilities) {
            if (!(c instanceof Map<?, ?> m) || !(m.get("capability") instanceof String name)
                    || !(m.get("state") instanceof Boolean state) || m.size() != 2) {
                throw QmpError.generic("Invalid parameter type for 'capabilities', expected: "
                        + "[{\"capability\": string, \"state\": boolean}]");
            }
            if (!name.equals("events")) {
                throw QmpError.generic("tscvm's migration has no capability '" + name + "' (only 'events')");
            }
            eventsState = state;
        }
        if (status == Status.ACTIVE) {
            throw QmpError.generic("There's a migration process in progress");
        }
        if (eventsState != null) {
            events = eventsState;
        }
    }

    private void setDowntimeLimit(Long millis) throws QmpError {
        if (millis == null) {
            return;
        }
        if (millis < 0 || millis > MAX_DOWNTIME_LIMIT_MILLIS) {
            throw QmpError.generic("Parameter 'downtime_limit' expects an integer in the range of 0 to "
                    + MAX_DOWNTIME_LIMIT_MILLIS + " milliseconds");
        }
        downtimeLimitMillis = millis;
    }

    /** Parses QEMU's URI forms tcp:HOST:PORT, file:PATH and exec:CMD. */
    static Endpoint endpoint(String uri) throws QmpError {
        if (uri.startsWith("tcp:")) {
            String address = uri.substring(4);
            int colon = address.lastIndexOf(':');
            String port = colon < 0 ? "" : address.substring(colon + 1);
            if (!port.isEmpty() && port.length() <= 5 && port.chars().allMatch(Character::isDigit)
                    && Integer.parseInt(port) <= 0xffff) {
                String host = address.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) {
                    host = host.substring(1, host.length() - 1);
                }
                return new Endpoint.Tcp(host, Integer.parseInt(port));
            }
        } else if (uri.startsWith("file:") && uri.length() > 5) {
            return new Endpoint.File(Path.of(uri.substring(5)));
        } else if (uri.startsWith("exec:") && !uri.substring(5).isBlank()) {
            return new Endpoint.Exec(uri.substring(5));
        }
        throw QmpError.generic("Parameter 'uri' expects a valid migration protocol (tcp:HOST:PORT, file:PATH, exec:CMD)");
    }

    private MigrationTarget requireTarget() throws QmpError {
        MigrationTarget t = target;
        if (t == null) {
            throw QmpError.generic("tscvm cannot migrate or save this machine: its state cannot be written as a stream yet");
        }
        return t;
    }

    // ---------------------------------------------------------------- outgoing

    private void migrate(String uri) throws QmpError {
        Endpoint endpoint = endpoint(uri);
        MigrationTarget t = requireTarget();
        synchronized (this) {
            if (incomingExpected) {
                throw QmpError.generic("Guest is waiting for an incoming migration");
            }
            if (status == Status.SETUP || status == Status.ACTIVE || status == Status.CANCELLING) {
                throw QmpError.generic("There's a migration process in progress");
            }
            if (machine.runState() == MonitorTarget.RunState.SHUTDOWN) {
                throw QmpError.generic("The machine has shut down: there is nothing to migrate");
            }
            begin(true);
        }
        Thread thread = new Thread(() -> send(endpoint, t), "tscvm-migrate-out");
        thread.setDaemon(true);
        thread.start();
    }

    /** Under the lock: a new migration, outgoing or not, starts in setup. */
    private void begin(boolean out) {
        outgoing = out;
        cancellable = null;
        startNanos = System.nanoTime();
        setupMillis = 0;
        totalMillis = -1;
        downtimeMillis = -1;
        errorDesc = null;
        postmigrate = false;
        progress = null;
        finishing = false;
        setStatus(Status.SETUP);
    }

    private void setStatus(Status s) {
        status = s;
        if (events) {
            emit.accept("MIGRATION", QmpCommands.ordered("status", s.qapiName));
        }
    }

    private void send(Endpoint endpoint, MigrationTarget t) {
        boolean[] stopped = new boolean[1];
        long[] stopNanos = new long[1];
        Process process = null;
        try (Sink sink = openSink(endpoint)) {
            process = sink.process;
            synchronized (this) {
                if (status == Status.CANCELLING) {
                    throw new IOException("cancelled");
                }
                cancellable = sink;
            }
            Runnable stop = () -> {
                stopNanos[0] = System.nanoTime();
                synchronized (this) {
                    finishing = true;
                }
                stopped[0] = machine.stop();
                if (stopped[0]) {
                    emit.accept("STOP", null);
                }
            };
            synchronized (this) {
                setupMillis = millisSince(startNanos);
                setStatus(Status.ACTIVE);
            }
            boolean live = sink.answer != null;
            if (live) {
                t.saveLive(sink.out, sink.answer, new PrecopySender.Control() {
                    @Override
                    public void whilePaused(Runnable action) {
                        machine.whilePaused(action);
                    }

                    @Override
                    public void stopGuest() {
                        stop.run();
                    }

                    @Override
                    public long downtimeLimitMillis() {
                        return downtimeLimitMillis;
                    }

                    @Override
                    public void progress(PrecopySender.Progress p) {
                        synchronized (Migration.this) {
                            progress = p;
                        }
                    }
                });
            } else {
                stop.run();
                t.save(sink.out);
            }
            sink.out.flush();
            if (!live) {
                sink.close();
                if (process != null && (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0)) {
                    throw new IOException("the command exited with status " + (process.isAlive() ? "(still running)"
                            : Integer.toString(process.exitValue())));
                }
            }
            synchronized (this) {
                // The point of no return: a cancel from here on finds nothing to break off.
                if (status == Status.CANCELLING) {
                    throw new IOException("cancelled");
                }
                cancellable = null;
            }
            if (live) {
                // The destination has loaded the state and waits for this word before it runs it.
                sink.out.write(PrecopyFormat.GO);
                sink.out.flush();
            }
            synchronized (this) {
                downtimeMillis = millisSince(stopNanos[0]);
                totalMillis = millisSince(startNanos);
                postmigrate = true;
                finishing = false;
                setStatus(Status.COMPLETED);
            }
        } catch (IOException | RuntimeException e) {
            fail("migration to " + describe(endpoint) + " failed: " + e.getMessage(), stopped[0]);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("migration to " + describe(endpoint) + " was interrupted", stopped[0]);
        } finally {
            if (process != null) {
                process.destroy();
            }
        }
    }

    /**
     * The outgoing migration ends without the state delivered: cancelled if migrate_cancel
     * asked, else failed. {@code resume}: the migration stopped a running guest.
     */
    private void fail(String why, boolean resume) {
        synchronized (this) {
            cancellable = null;
            totalMillis = millisSince(startNanos);
            // QEMU 7.2 (migration_iteration_finish): a guest that was stopped before the migrate
            // and ends it in finish-migrate goes to postmigrate, not back to paused.
            postmigrate = finishing && !resume;
            finishing = false;
            if (status == Status.CANCELLING) {
                setStatus(Status.CANCELLED);
            } else {
                errorDesc = why;
                setStatus(Status.FAILED);
            }
        }
        // QEMU's source runs on when the migration fails or is cancelled (if it ran before).
        if (resume && machine.cont()) {
            emit.accept("RESUME", null);
        }
    }

    /**
     * migrate_cancel: breaks off the outgoing migration under way, as QEMU does (status
     * cancelling, then cancelled once the sending thread has stopped; the source runs on if it
     * ran before). Nothing under way, or a migration past its point of no return: nothing happens.
     */
    private void cancel() {
        Sink sink;
        synchronized (this) {
            if (!outgoing || (status != Status.SETUP && status != Status.ACTIVE)) {
                return;
            }
            if (status == Status.ACTIVE && cancellable == null) {
                return; // committed: the destination has been told to run the state
            }
            setStatus(Status.CANCELLING);
            sink = cancellable;
        }
        if (sink != null) {
            sink.breakOff();
        }
    }

    /** An open destination: its stream, its answers (tcp: only), and the process behind exec:. */
    private static final class Sink implements AutoCloseable {
        final OutputStream out;
        final InputStream answer;
        final Closeable resource;
        final Process process;

        Sink(OutputStream out, InputStream answer, Closeable resource, Process process) {
            this.out = out;
            this.answer = answer;
            this.resource = resource;
            this.process = process;
        }

        /**
         * From another thread: makes the sender's blocked or next write fail, without the
         * buffered stream's lock (the sender may hold it in a write that never returns).
         */
        void breakOff() {
            if (process != null) {
                // By its handle: Process.destroy would first close stdin, whose lock the blocked
                // writer holds. The shell first (so it reports no killed child), then its children.
                List<ProcessHandle> started = process.descendants().toList();
                process.toHandle().destroyForcibly();
                started.forEach(ProcessHandle::destroyForcibly);
                return;
            }
            try {
                resource.close();
            } catch (IOException e) {
                // closed already: the sender fails anyway
            }
        }

        @Override
        public void close() throws IOException {
            try {
                out.close();
            } finally {
                resource.close();
            }
        }
    }

    private interface Closeable {
        void close() throws IOException;
    }

    private static Sink openSink(Endpoint endpoint) throws IOException {
        if (endpoint instanceof Endpoint.Tcp tcp) {
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(tcpHost(tcp.host()), tcp.port()), CONNECT_TIMEOUT_MILLIS);
                socket.setSoTimeout(ANSWER_TIMEOUT_MILLIS); // only the destination's answer is read
            } catch (IOException e) {
                socket.close();
                throw e;
            }
            return new Sink(new BufferedOutputStream(socket.getOutputStream(), 1 << 16), socket.getInputStream(),
                    socket::close, null);
        }
        if (endpoint instanceof Endpoint.File file) {
            OutputStream out = Files.newOutputStream(file.path());
            return new Sink(new BufferedOutputStream(out, 1 << 16), null, out::close, null);
        }
        Process p = new ProcessBuilder("/bin/sh", "-c", ((Endpoint.Exec) endpoint).command())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new Sink(new BufferedOutputStream(p.getOutputStream(), 1 << 16), null, () -> { }, p);
    }

    // ---------------------------------------------------------------- incoming

    /**
     * -incoming: the machine (held by the caller) waits for its state from {@code uri}, or with
     * {@code defer} for migrate-incoming. A tcp: listener is bound and a file: opened now, so a
     * bad address fails the start, not the run. A state that cannot be loaded ends the run
     * ({@link MonitorTarget#abort}): the destination has nothing to run.
     *
     * @throws QmpError for a URI tscvm cannot take or a source it cannot open
     */
    void expectIncoming(String uri, boolean autostartAfter) throws QmpError {
        synchronized (this) {
            incomingExpected = true;
            autostart = autostartAfter;
        }
        if (uri.equals("defer")) {
            synchronized (this) {
                incomingDeferred = true;
            }
            return;
        }
        startIncoming(endpoint(uri));
    }

    private void migrateIncoming(String uri) throws QmpError {
        Endpoint endpoint = endpoint(uri);
        synchronized (this) {
            if (!incomingExpected) {
                throw QmpError.generic("'-incoming' was not specified on the command line");
            }
            if (!incomingDeferred) {
                throw QmpError.generic("The incoming migration has already been started");
            }
            incomingDeferred = false;
        }
        startIncoming(endpoint);
    }

    private void startIncoming(Endpoint endpoint) throws QmpError {
        MigrationTarget t = requireTarget();
        Source source;
        try {
            source = openSource(endpoint);
        } catch (IOException e) {
            throw QmpError.generic("cannot take an incoming migration from " + describe(endpoint) + ": " + e.getMessage());
        }
        synchronized (this) {
            begin(false);
        }
        Thread thread = new Thread(() -> receive(source, endpoint, t), "tscvm-migrate-in");
        thread.setDaemon(true);
        thread.start();
    }

    /** An incoming source, ready to be read once {@link #open} returns (after a tcp: client connected). */
    private interface Source {
        InputStream open() throws IOException;

        /**
         * Tells a tcp: source the state is loaded, then waits for its word that the migration
         * is complete (a cancel closes the connection instead); nothing elsewhere.
         */
        default void confirmLoaded() throws IOException {
        }

        void close() throws IOException;
    }

    private static Source openSource(Endpoint endpoint) throws IOException {
        if (endpoint instanceof Endpoint.Tcp tcp) {
            ServerSocket listener = new ServerSocket();
            listener.setReuseAddress(true);
            try {
                listener.bind(new InetSocketAddress(tcpHost(tcp.host()), tcp.port()), 1);
            } catch (IOException e) {
                listener.close();
                throw e;
            }
            return new Source() {
                private Socket socket;
                private InputStream in;

                @Override
                public InputStream open() throws IOException {
                    socket = listener.accept();
                    listener.close(); // one source, as QEMU takes one
                    in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
                    return in;
                }

                @Override
                public void confirmLoaded() throws IOException {
                    OutputStream back = socket.getOutputStream();
                    back.write(PrecopyFormat.ANSWER_LOADED);
                    back.flush();
                    socket.setSoTimeout(ANSWER_TIMEOUT_MILLIS);
                    int word = in.read();
                    if (word != PrecopyFormat.GO) {
                        throw new java.io.EOFException(word < 0
                                ? "the source closed the connection after the state had arrived: it cancelled or failed the migration"
                                : "the source's word after the state is " + word + ", not " + PrecopyFormat.GO);
                    }
                }

                @Override
                public void close() throws IOException {
                    listener.close();
                    if (socket != null) {
                        socket.close();
                    }
                }
            };
        }
        if (endpoint instanceof Endpoint.File file) {
            InputStream in = new BufferedInputStream(Files.newInputStream(file.path()), 1 << 16);
            return new Source() {
                @Override
                public InputStream open() {
                    return in;
                }

                @Override
                public void close() throws IOException {
                    in.close();
                }
            };
        }
        Process p = new ProcessBuilder("/bin/sh", "-c", ((Endpoint.Exec) endpoint).command())
                .redirectInput(ProcessBuilder.Redirect.PIPE)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        p.getOutputStream().close();
        return new Source() {
            @Override
            public InputStream open() {
                return new BufferedInputStream(p.getInputStream(), 1 << 16);
            }

            @Override
            public void close() {
                p.destroy();
            }
        };
    }

    private void receive(Source source, Endpoint endpoint, MigrationTarget t) {
        try {
            InputStream in = source.open();
            long loadNanos = System.nanoTime();
            synchronized (this) {
                setupMillis = millisSince(startNanos);
                setStatus(Status.ACTIVE);
            }
            t.load(in);
            source.confirmLoaded();
            boolean start;
            synchronized (this) {
                downtimeMillis = millisSince(loadNanos);
                totalMillis = millisSince(startNanos);
                incomingExpected = false;
                setStatus(Status.COMPLETED);
                start = autostart;
            }
            if (start && machine.cont()) {
                emit.accept("RESUME", null);
            }
        } catch (IOException | RuntimeException e) {
            boolean incomplete = incomplete(e);
            String why = "load of migration from " + describe(endpoint) + " failed: " + e.getMessage()
                    + (incomplete ? " (the stream is incomplete; nothing of it ran)" : "");
            synchronized (this) {
                errorDesc = why;
                totalMillis = millisSince(startNanos);
                setStatus(Status.FAILED);
            }
            machine.abort(why, incomplete);
        } finally {
            try {
                source.close();
            } catch (IOException e) {
                // The state is in (or the run ends): nothing more to read.
            }
        }
    }

    /** The stream ended or broke before the state was whole: the source cancelled or went away. */
    private static boolean incomplete(Exception e) {
        if (e instanceof SnapshotException s) {
            return s.kind() == SnapshotException.Kind.TRUNCATED;
        }
        return e instanceof java.io.EOFException || e instanceof java.net.SocketException
                || e instanceof java.net.SocketTimeoutException;
    }

    // ---------------------------------------------------------------- query

    private synchronized Map<String, Object> query() {
        Map<String, Object> info = QmpCommands.ordered();
        if (status == Status.NONE) {
            return info;
        }
        info.put("status", status.qapiName);
        if (status == Status.ACTIVE || status == Status.SETUP || status == Status.CANCELLING) {
            info.put("total-time", millisSince(startNanos));
        } else {
            info.put("total-time", totalMillis);
        }
        if (status != Status.SETUP) {
            info.put("setup-time", setupMillis);
        }
        if (downtimeMillis >= 0) {
            info.put("downtime", downtimeMillis);
        }
        if (progress != null) {
            PrecopySender.Progress p = progress;
            if (status == Status.ACTIVE && p.expectedDowntimeMillis() >= 0) {
                info.put("expected-downtime", p.expectedDowntimeMillis());
            }
            info.put("ram", QmpCommands.ordered("transferred", p.transferredBytes(), "remaining", p.remainingBytes(),
                    "total", p.totalBytes(), "duplicate", p.zeroPages(), "normal", p.normalPages(),
                    "normal-bytes", p.normalPages() * 4096, "dirty-pages-rate", p.dirtyPagesRate(),
                    "mbps", p.mbps(), "dirty-sync-count", (long) p.dirtySyncCount(), "postcopy-requests", 0L,
                    "page-size", 4096L, "pages-per-second", p.pagesPerSecond(), "precopy-bytes", p.precopyBytes(),
                    "downtime-bytes", p.downtimeBytes(), "postcopy-bytes", 0L));
        }
        if (errorDesc != null) {
            info.put("error-desc", errorDesc);
        }
        return info;
    }

    private static long millisSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }

    /** QEMU reads tcp:0:PORT and tcp::PORT as every interface. */
    private static InetAddress tcpHost(String host) throws IOException {
        return host.isEmpty() || host.equals("0") ? InetAddress.getByName("0.0.0.0") : InetAddress.getByName(host);
    }

    private static String describe(Endpoint e) {
        if (e instanceof Endpoint.Tcp tcp) {
            return "tcp:" + tcp.host() + ":" + tcp.port();
        }
        if (e instanceof Endpoint.File f) {
            return "file:" + f.path();
        }
        return "exec:" + ((Endpoint.Exec) e).command();
    }
}
