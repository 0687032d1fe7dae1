package org.tscvm.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The commands tscvm's QMP monitor runs, one table row each: name, arguments with their QAPI
 * types, and the handler. Arguments are checked against the row before the handler runs (QMP's
 * rule: a wrong or unknown argument fails the command before any side effect), with QEMU's
 * error texts. Replies and events are QEMU 7.2's shapes, checked against a real QEMU.
 */
final class QmpCommands {
    /** The QEMU version whose QMP this monitor speaks (clients check it). */
    static final Map<String, Object> VERSION = ordered("qemu", ordered("micro", 0L, "minor", 2L, "major", 7L),
            "package", "tscvm");

    /** A QAPI argument type, with the word QEMU's type errors use. */
    enum ArgType {
        STRING("string"), INT("integer"), BOOL("boolean"), ARRAY("array"), OBJECT("object");

        final String expected;

        ArgType(String expected) {
            this.expected = expected;
        }

        boolean accepts(Object v) {
            return switch (this) {
                case STRING -> v instanceof String;
                case INT -> v instanceof Long;
                case BOOL -> v instanceof Boolean;
                case ARRAY -> v instanceof List;
                case OBJECT -> v instanceof Map;
            };
        }
    }

    record Arg(String name, ArgType type, boolean required) {
        static Arg required(String name, ArgType type) {
            return new Arg(name, type, true);
        }

        static Arg optional(String name, ArgType type) {
            return new Arg(name, type, false);
        }
    }

    @FunctionalInterface
    interface Handler {
        /** The command's {@code return} value (a Map, List, String ...); arguments already checked. */
        Object run(Map<String, Object> args) throws QmpError;
    }

    record Command(String name, List<Arg> args, Handler handler) {
    }

    private final MonitorTarget target;
    private final Migration migration;
    /** Sends an event (name, data or null) to the connected client. */
    private final BiConsumer<String, Map<String, Object>> emit;
    private final Map<String, Command> table = new LinkedHashMap<>();

    QmpCommands(MonitorTarget target, Migration migration, BiConsumer<String, Map<String, Object>> emit) {
        this.target = target;
        this.migration = migration;
        this.emit = emit;
        add("qmp_capabilities", List.of(Arg.optional("enable", ArgType.ARRAY)), args -> {
            throw new QmpError(QmpError.COMMAND_NOT_FOUND, "Capabilities negotiation is already complete, command ignored");
        });
        add("query-status", List.of(), args -> status());
        add("stop", List.of(), args -> {
            if (target.stop()) {
                emit.accept("STOP", null);
            }
            return Map.of();
        });
        add("cont", List.of(), args -> {
            if (target.runState() == MonitorTarget.RunState.SHUTDOWN) {
                throw QmpError.generic("The machine has shut down: it cannot run again");
            }
            migration.checkCont();
            if (target.cont()) {
                emit.accept("RESUME", null);
            }
            return Map.of();
        });
        add("system_reset", List.of(), args -> {
            if (!target.reset()) {
                throw QmpError.generic("The run replays a recording: only the log can reset it");
            }
            return Map.of();
        });
        add("quit", List.of(), args -> {
            target.quit();
            return Map.of();
        });
        add("query-cpus-fast", List.of(), args -> cpus());
        add("query-version", List.of(), args -> VERSION);
        add("query-commands", List.of(), args -> {
            List<Object> names = new ArrayList<>();
            for (String name : table.keySet()) {
                names.add(Map.of("name", name));
            }
            return names;
        });
        add("human-monitor-command", List.of(Arg.required("command-line", ArgType.STRING),
                Arg.optional("cpu-index", ArgType.INT)), this::humanMonitorCommand);
        migration.register(this);
    }

    void add(String name, List<Arg> args, Handler handler) {
        table.put(name, new Command(name, args, handler));
    }

    /**
     * Runs {@code name} with {@code args} (null: none): its return value, or a QmpError for an
     * unknown command, wrong arguments or the command's own failure.
     */
    Object execute(String name, Map<String, Object> args) throws QmpError {
        Command command = table.get(name);
        if (command == null) {
            throw new QmpError(QmpError.COMMAND_NOT_FOUND, "The command " + name + " has not been found");
        }
        Map<String, Object> given = args == null ? Map.of() : args;
        for (String key : given.keySet()) {
            if (command.args().stream().noneMatch(a -> a.name().equals(key))) {
                throw QmpError.generic("Parameter '" + key + "' is unexpected");
            }
        }
        for (Arg a : command.args()) {
            Object v = given.get(a.name());
            if (v == null && !given.containsKey(a.name())) {
                if (a.required()) {
                    throw QmpError.generic("Parameter '" + a.name() + "' is missing");
                }
            } else if (!a.type().accepts(v)) {
                throw QmpError.generic("Invalid parameter type for '" + a.name() + "', expected: " + a.type().expected);
            }
        }
        return command.handler().run(given);
    }

    private Map<String, Object> status() {
        MonitorTarget.RunState state = runState();
        return ordered("status", state.qapiName, "singlestep", false, "running",
                state == MonitorTarget.RunState.RUNNING);
    }

    private MonitorTarget.RunState runState() {
        return migration.runState(target.runState());
    }

    private List<Object> cpus() {
        List<Object> list = new ArrayList<>();
        for (MonitorTarget.CpuInfo cpu : target.cpus()) {
            list.add(ordered("cpu-index", (long) cpu.index(),
                    "qom-path", "/machine/unattached/device[" + cpu.index() + "]",
                    "thread-id", cpu.threadId(),
                    "target", "x86_64",
                    "props", ordered("core-id", (long) cpu.coreId(), "thread-id", 0L, "socket-id", (long) cpu.socketId())));
        }
        return list;
    }

    /** HMP commands over QMP: their text is the reply, errors included, as QEMU answers. */
    private Object humanMonitorCommand(Map<String, Object> args) throws QmpError {
        String line = ((String) args.get("command-line")).trim();
        int cpu = 0;
        if (args.get("cpu-index") != null) {
            long index = (Long) args.get("cpu-index");
            if (index < 0 || index >= target.cpus().size()) {
                throw QmpError.generic("Parameter 'cpu-index' expects a CPU number");
            }
            cpu = (int) index;
        }
        String[] words = line.split("\\s+");
        switch (words[0]) {
            case "info" -> {
                String what = words.length > 1 ? words[1] : "";
                switch (what) {
                    case "registers" -> {
                        if (words.length > 2 && words[2].equals("-a")) {
                            StringBuilder all = new StringBuilder();
                            for (int i = 0; i < target.cpus().size(); i++) {
                                all.append("\r\n").append(target.registers(i));
                            }
                            return all.toString();
                        }
                        return "\r\n" + target.registers(cpu);
                    }
                    case "status" -> {
                        return "VM status: " + runState().qapiName + "\r\n";
                    }
                    case "cpus" -> {
                        StringBuilder sb = new StringBuilder();
                        for (MonitorTarget.CpuInfo c : target.cpus()) {
                            sb.append(c.index() == cpu ? "* " : "  ").append("CPU #").append(c.index())
                                    .append(": thread_id=").append(c.threadId()).append("\r\n");
                        }
                        return sb.toString();
                    }
                    default -> {
                        return "info " + what + ": tscvm shows registers, status and cpus\r\n";
                    }
                }
            }
            case "stop" -> execute("stop", null);
            case "cont", "c" -> execute("cont", null);
            case "system_reset" -> execute("system_reset", null);
            case "quit", "q" -> execute("quit", null);
            case "help", "?" -> {
                return "info registers [-a] -- the CPU registers\r\ninfo status -- the VM's run state\r\n"
                        + "info cpus -- the vCPUs\r\nstop, cont|c, system_reset, quit|q\r\n";
            }
            default -> {
                return "unknown command: '" + words[0] + "'\r\n";
            }
        }
        return "";
    }

    /** A JSON object with members in the order given (key, value, key, value ...). */
    static Map<String, Object> ordered(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }
}
