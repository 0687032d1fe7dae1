package org.tscvm.gdb;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.tscvm.memory.GuestMemory;
import org.tscvm.vm.GuestDebug;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuExit;

/**
 * The packets of gdb's remote protocol, one at a time, for a stopped {@link DebugTarget}
 * (framing and acks are {@link GdbSession}'s). Threads are vCPUs (thread N = vCPU N - 1);
 * memory is guest-virtual, through the selected vCPU's page tables. Breakpoints (Z0 and Z1
 * alike) and watchpoints (Z2 write, Z3 read, Z4 access) go to every vCPU through
 * {@link GuestDebug}, so guest memory is never patched.
 *
 * <p>Every malformed or unsupported packet gets an error reply ({@code E..}) or the empty
 * reply gdb reads as "not supported"; nothing a debugger sends throws.
 */
final class GdbStub {
    /** Largest packet we accept and announce (PacketSize, hex): room for a 0x7f0-byte memory read. */
    static final int PACKET_SIZE = 0x1000;

    private static final int SIGINT = 2, SIGTRAP = 5;

    /** What {@link #handle} asks of the session after its reply. */
    enum Next { REPLY, RESUMED, DETACH, KILL }

    private final DebugTarget target;
    private final List<Vcpu> vcpus;
    private final Set<Long> softwareBreakpoints = new LinkedHashSet<>();
    private final Set<Long> hardwareBreakpoints = new LinkedHashSet<>();
    private final List<GuestDebug.Watchpoint> watchpoints = new ArrayList<>();
    /** The vCPU that register and memory packets use (Hg) and the one that legacy c/s resume (Hc). */
    private int generalVcpu;
    private int continueVcpu;
    private TargetEvent.Stopped lastStop;
    /** The signal a stop without a debug reason reports: SIGINT after gdb's Ctrl-C, SIGTRAP on attach. */
    private int requestedStopSignal = SIGTRAP;
    /** Set on the session thread, read by the reader thread for the packets that follow. */
    private volatile boolean noAckMode;
    private Next next = Next.REPLY;

    GdbStub(DebugTarget target) {
        this.target = target;
        this.vcpus = target.vcpus();
    }

    /** The vCPU that register and memory packets address (Hg). */
    int generalVcpu() {
        return generalVcpu;
    }

    boolean noAckMode() {
        return noAckMode;
    }

    /**
     * The machine stopped ({@code interrupted}: because gdb sent Ctrl-C): later packets see the
     * stopped vCPU, and '?' reports it.
     */
    void stopped(TargetEvent.Stopped stop, boolean interrupted) {
        lastStop = stop;
        requestedStopSignal = interrupted ? SIGINT : SIGTRAP;
        generalVcpu = stop.vcpu();
        continueVcpu = stop.vcpu();
    }

    /** The stop reply for the last stop (what '?' answers). */
    String stopReply() {
        return stopReply(lastStop);
    }

    /** What the session does after sending {@link #handle}'s reply. */
    Next next() {
        return next;
    }

    /** The reply to {@code packet}, or null when there is none now ({@link #next()} says why). */
    String handle(String packet) {
        next = Next.REPLY;
        try {
            return dispatch(packet);
        } catch (RuntimeException e) {
            // A packet we parsed wrongly must not end the session: gdb sees an error.
            return "E01";
        }
    }

    private String dispatch(String p) {
        if (p.isEmpty()) {
            return "";
        }
        char c = p.charAt(0);
        String rest = p.substring(1);
        switch (c) {
            case '?':
                return stopReply(lastStop);
            case 'g':
                return Rsp.hex(X86Registers.readAll(vcpus.get(generalVcpu)), 0, X86Registers.BLOCK_SIZE);
            case 'G':
                return written(writeAllRegisters(rest));
            case 'p':
                return readRegister(rest);
            case 'P':
                return written(writeRegister(rest));
            case 'm':
                return readMemory(rest);
            case 'M':
                return written(writeMemory(rest, false));
            case 'X':
                return written(writeMemory(rest, true));
            case 'b':
                return reverse(p);
            case 'c':
                return resumeLegacy(rest, DebugTarget.Action.CONTINUE);
            case 's':
                return resumeLegacy(rest, DebugTarget.Action.STEP);
            case 'C':
            case 'S': {
                // The signal means nothing to a machine; the optional address follows ';'.
                int semi = rest.indexOf(';');
                return resumeLegacy(semi < 0 ? "" : rest.substring(semi + 1),
                        c == 'C' ? DebugTarget.Action.CONTINUE : DebugTarget.Action.STEP);
            }
            case 'H':
                return selectThread(rest);
            case 'T':
                return thread(rest) >= 0 ? "OK" : "E01";
            case 'Z':
            case 'z':
                return breakpoint(c == 'Z', rest);
            case 'D':
                next = Next.DETACH;
                return "OK";
            case 'k':
                next = Next.KILL;
                return null;
            case 'q':
                return query(p);
            case 'Q':
                if (p.equals("QStartNoAckMode")) {
                    noAckMode = true;
                    return "OK";
                }
                return "";
            case 'v':
                return vPacket(p);
            default:
                return "";
        }
    }

    // ---------------------------------------------------------------- queries

    private String query(String p) {
        if (p.startsWith("qSupported")) {
            return "PacketSize=" + Integer.toHexString(PACKET_SIZE)
                    + ";qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+"
                    + (target.reversible() ? ";ReverseStep+;ReverseContinue+" : "");
        }
        if (p.startsWith("qXfer:features:read:")) {
            return features(p.substring("qXfer:features:read:".length()));
        }
        switch (p) {
            case "qC":
                return "QC" + Integer.toHexString(generalVcpu + 1);
            case "qfThreadInfo": {
                StringBuilder b = new StringBuilder("m");
                for (int i = 0; i < vcpus.size(); i++) {
                    b.append(i == 0 ? "" : ",").append(Integer.toHexString(i + 1));
                }
                return b.toString();
            }
            case "qsThreadInfo":
                return "l";
            case "qAttached":
                return "1";
            case "qSymbol::":
                return "OK";
            default:
                break;
        }
        if (p.startsWith("qThreadExtraInfo,")) {
            int vcpu = thread(p.substring("qThreadExtraInfo,".length()));
            return vcpu < 0 ? "E01" : Rsp.hex("vCPU " + vcpu);
        }
        return "";
    }

    /** {@code target.xml:OFFSET,LENGTH}: the piece of the description, 'm' if more follows, 'l' if it ends. */
    private String features(String args) {
        int colon = args.indexOf(':');
        if (colon < 0) {
            return "E00";
        }
        if (!args.substring(0, colon).equals("target.xml")) {
            return "E00";
        }
        long[] range = offsetLength(args.substring(colon + 1));
        if (range == null) {
            return "E00";
        }
        String xml = X86Registers.TARGET_XML;
        if (range[0] > xml.length()) {
            return "E00";
        }
        int from = (int) range[0];
        int to = (int) Math.min(xml.length(), from + Math.min(range[1], PACKET_SIZE / 2));
        return (to < xml.length() ? "m" : "l") + xml.substring(from, to);
    }

    // ---------------------------------------------------------------- threads

    /** A thread id as gdb writes it (hex; the vCPU index is one less), or -1 if there is no such thread. */
    private int thread(String text) {
        long id = Rsp.parseHex(text);
        return id >= 1 && id <= vcpus.size() ? (int) id - 1 : -1;
    }

    private String selectThread(String rest) {
        if (rest.length() < 2) {
            return "E01";
        }
        String id = rest.substring(1);
        // 0 is "any thread" and -1 "all threads": both keep the current choice.
        int vcpu = id.equals("0") || id.equals("-1") ? -2 : thread(id);
        if (vcpu == -1) {
            return "E01";
        }
        switch (rest.charAt(0)) {
            case 'g':
                generalVcpu = vcpu >= 0 ? vcpu : generalVcpu;
                return "OK";
            case 'c':
                continueVcpu = vcpu >= 0 ? vcpu : continueVcpu;
                return "OK";
            default:
                return "E01";
        }
    }

    // ---------------------------------------------------------------- registers

    private String readRegister(String rest) {
        long n = Rsp.parseHex(rest);
        if (n < 0 || n >= X86Registers.COUNT) {
            return "E01";
        }
        byte[] all = X86Registers.readAll(vcpus.get(generalVcpu));
        return Rsp.hex(all, X86Registers.offset((int) n), X86Registers.size((int) n));
    }

    private String writeRegister(String rest) {
        int eq = rest.indexOf('=');
        if (eq < 0) {
            return "E01";
        }
        long n = Rsp.parseHex(rest.substring(0, eq));
        byte[] value = Rsp.unhex(rest.substring(eq + 1));
        if (n < 0 || n >= X86Registers.COUNT || value == null || value.length != X86Registers.size((int) n)) {
            return "E01";
        }
        return X86Registers.write(vcpus.get(generalVcpu), (int) n, value, 0) ? "OK" : "E01";
    }

    private String writeAllRegisters(String rest) {
        byte[] block = Rsp.unhex(rest);
        if (block == null || block.length > X86Registers.BLOCK_SIZE) {
            return "E01";
        }
        // gdb may send fewer registers than we describe, but never part of one.
        int count = 0;
        while (count < X86Registers.COUNT && X86Registers.offset(count + 1) <= block.length) {
            count++;
        }
        if (count == 0 || X86Registers.offset(count) != block.length) {
            return "E01";
        }
        Vcpu vcpu = vcpus.get(generalVcpu);
        boolean ok = true;
        for (int n = 0; n < count; n++) {
            ok &= X86Registers.write(vcpu, n, block, X86Registers.offset(n));
        }
        return ok ? "OK" : "E01";
    }

    // ---------------------------------------------------------------- memory

    /** E14 (EFAULT) for an address nothing is mapped at, as gdbserver answers. */
    private static final String UNMAPPED = "E14";

    private String readMemory(String rest) {
        int comma = rest.indexOf(',');
        if (comma < 0) {
            return "E01";
        }
        Long address = Rsp.parseAddress(rest.substring(0, comma));
        long length = Rsp.parseHex(rest.substring(comma + 1));
        if (address == null || length < 0) {
            return "E01";
        }
        byte[] bytes = new byte[(int) Math.min(length, (PACKET_SIZE - 4) / 2)];
        int n = copyVirtual(address, bytes, false);
        // A read that starts mapped and runs into unmapped memory returns what it got, as gdb allows.
        return n == 0 && bytes.length > 0 ? UNMAPPED : Rsp.hex(bytes, 0, n);
    }

    private String writeMemory(String rest, boolean binary) {
        int comma = rest.indexOf(',');
        int colon = rest.indexOf(':');
        if (comma < 0 || colon < comma) {
            return "E01";
        }
        Long address = Rsp.parseAddress(rest.substring(0, comma));
        long length = Rsp.parseHex(rest.substring(comma + 1, colon));
        String data = rest.substring(colon + 1);
        byte[] bytes = binary ? Rsp.unescape(data) : Rsp.unhex(data);
        if (address == null || length < 0 || bytes == null || bytes.length != length) {
            return "E01";
        }
        return copyVirtual(address, bytes, true) == bytes.length ? "OK" : UNMAPPED;
    }

    /**
     * Copies between guest-virtual memory at {@code address} (through the selected vCPU's page
     * tables) and {@code bytes}; stops at the first byte that is unmapped or not RAM (device
     * memory is never touched). Returns how many bytes were copied.
     */
    private int copyVirtual(long address, byte[] bytes, boolean write) {
        Vcpu vcpu = vcpus.get(generalVcpu);
        GuestMemory memory = vcpu.vm().memory();
        long page = -1;
        long pagePhys = -1;
        for (int i = 0; i < bytes.length; i++) {
            long lin = address + i;
            if (lin >>> 12 != page) {
                page = lin >>> 12;
                pagePhys = vcpu.translate(lin & ~0xfffL);
            }
            long phys = pagePhys < 0 ? -1 : pagePhys + (lin & 0xfff);
            if (phys < 0 || !memory.isRam(phys, 1)) {
                return i;
            }
            if (write) {
                memory.write8(phys, bytes[i]);
            } else {
                bytes[i] = (byte) memory.read8(phys);
            }
        }
        return bytes.length;
    }

    // ---------------------------------------------------------------- breakpoints and watchpoints

    /** {@code TYPE,ADDR,KIND}: Z inserts, z removes; types 0-1 breakpoints, 2-4 watchpoints. */
    private String breakpoint(boolean insert, String rest) {
        String[] parts = rest.split(";", 2)[0].split(",");
        if (parts.length != 3) {
            return "E01";
        }
        long type = Rsp.parseHex(parts[0]);
        Long address = Rsp.parseAddress(parts[1]);
        long kind = Rsp.parseHex(parts[2]);
        if (type < 0 || address == null || kind < 0) {
            return "E01";
        }
        if (type == 0 || type == 1) {
            Set<Long> set = type == 0 ? softwareBreakpoints : hardwareBreakpoints;
            if (insert) {
                set.add(address);
            } else {
                set.remove(address);
            }
            return "OK";
        }
        if (type > 4) {
            return "";
        }
        if (kind < 1 || kind > 0x10000) {
            return "E01";
        }
        GuestDebug.WatchKind watchKind = type == 2 ? GuestDebug.WatchKind.WRITE
                : type == 3 ? GuestDebug.WatchKind.READ : GuestDebug.WatchKind.ACCESS;
        GuestDebug.Watchpoint w = new GuestDebug.Watchpoint(address, kind, watchKind);
        if (insert) {
            if (!watchpoints.contains(w)) {
                watchpoints.add(w);
            }
        } else {
            watchpoints.remove(w);
        }
        return "OK";
    }

    private GuestDebug debugSettings() {
        Set<Long> all = new LinkedHashSet<>(softwareBreakpoints);
        all.addAll(hardwareBreakpoints);
        return new GuestDebug(false, all, watchpoints);
    }

    // ---------------------------------------------------------------- resuming

    /** {@code c [ADDR]} / {@code s [ADDR]}: the Hc vCPU resumes (at ADDR if given); for c all vCPUs run, for s only it. */
    private String resumeLegacy(String address, DebugTarget.Action action) {
        if (!address.isEmpty()) {
            Long rip = Rsp.parseAddress(address);
            if (rip == null) {
                return "E01";
            }
            // P would do the same: rip is register 16.
            byte[] value = new byte[8];
            X86Registers.put(value, 0, 8, rip);
            X86Registers.write(vcpus.get(continueVcpu), X86Registers.RIP, value, 0);
            target.stateWritten();
        }
        DebugTarget.Action[] actions = new DebugTarget.Action[vcpus.size()];
        for (int i = 0; i < actions.length; i++) {
            actions[i] = action == DebugTarget.Action.CONTINUE ? DebugTarget.Action.CONTINUE
                    : i == continueVcpu ? DebugTarget.Action.STEP : DebugTarget.Action.STAY_STOPPED;
        }
        return resume(actions);
    }

    /** {@code bs} (reverse-stepi) and {@code bc} (reverse-continue): only where the target can go back. */
    private String reverse(String p) {
        if (!p.equals("bs") && !p.equals("bc")) {
            return "";
        }
        if (!target.reversible()) {
            return "E01";
        }
        if (p.equals("bs")) {
            target.reverseStep(continueVcpu);
        } else {
            target.reverseContinue(debugSettings());
        }
        next = Next.RESUMED; // the stop is on its way
        return null;
    }

    /** A write's reply; a write that happened ends the recorded history's claim on the future. */
    private String written(String reply) {
        if (reply.equals("OK")) {
            target.stateWritten();
        }
        return reply;
    }

    private String resume(DebugTarget.Action[] actions) {
        next = Next.RESUMED;
        target.resume(actions, debugSettings());
        return null;
    }

    private String vPacket(String p) {
        if (p.equals("vCont?")) {
            return "vCont;c;C;s;S;t";
        }
        if (p.startsWith("vCont;")) {
            return vCont(p.substring("vCont;".length()));
        }
        if (p.startsWith("vKill")) {
            next = Next.KILL;
            return "OK";
        }
        return ""; // vMustReplyEmpty and everything else we do not support
    }

    /** {@code ACTION[:THREAD](;ACTION[:THREAD])*}: the leftmost action that names a vCPU (or all) applies to it. */
    private String vCont(String args) {
        DebugTarget.Action[] actions = new DebugTarget.Action[vcpus.size()];
        for (String item : args.split(";")) {
            int colon = item.indexOf(':');
            String verb = colon < 0 ? item : item.substring(0, colon);
            DebugTarget.Action action;
            if (verb.equals("c") || (verb.startsWith("C") && verb.length() == 3)) {
                action = DebugTarget.Action.CONTINUE;
            } else if (verb.equals("s") || (verb.startsWith("S") && verb.length() == 3)) {
                action = DebugTarget.Action.STEP;
            } else if (verb.equals("t")) {
                action = DebugTarget.Action.STAY_STOPPED;
            } else {
                return "E01";
            }
            int only = -1;
            if (colon >= 0 && !item.substring(colon + 1).equals("-1")) {
                only = thread(item.substring(colon + 1));
                if (only < 0) {
                    return "E01";
                }
            }
            for (int i = 0; i < actions.length; i++) {
                if (actions[i] == null && (only < 0 || only == i)) {
                    actions[i] = action;
                }
            }
        }
        boolean anyRuns = false;
        for (int i = 0; i < actions.length; i++) {
            if (actions[i] == null) {
                actions[i] = DebugTarget.Action.STAY_STOPPED;
            }
            anyRuns |= actions[i] != DebugTarget.Action.STAY_STOPPED;
        }
        if (!anyRuns) {
            return "E01"; // nothing would ever report a stop
        }
        return resume(actions);
    }

    // ---------------------------------------------------------------- stop replies

    /** The stop reply for {@code stop}: T, the signal, the thread, and why (swbreak, hwbreak, watch). */
    private String stopReply(TargetEvent.Stopped stop) {
        if (stop == null) {
            return "S05";
        }
        VcpuExit.Debug d = stop.debug();
        int signal = d == null ? requestedStopSignal : SIGTRAP;
        StringBuilder b = new StringBuilder("T").append(Rsp.hex2(signal))
                .append("thread:").append(Integer.toHexString(stop.vcpu() + 1)).append(';');
        if (stop.historyBegin()) {
            b.append("replaylog:begin;");
        }
        if (d != null) {
            switch (d.reason()) {
                case BREAKPOINT -> b.append(softwareBreakpoints.contains(d.address()) ? "swbreak:;" : "hwbreak:;");
                case WATCH_WRITE -> b.append("watch:").append(Long.toHexString(d.address())).append(';');
                case WATCH_READ -> b.append("rwatch:").append(Long.toHexString(d.address())).append(';');
                case WATCH_ACCESS -> b.append("awatch:").append(Long.toHexString(d.address())).append(';');
                case SINGLE_STEP -> { }
            }
        }
        return b.toString();
    }

    /** W (exited with a status) or X (terminated by a signal). */
    static String endReply(TargetEvent.Ended end) {
        return end.signal() == 0 ? "W" + Rsp.hex2(end.exitStatus() & 0xff) : "X" + Rsp.hex2(end.signal());
    }

    private static long[] offsetLength(String text) {
        int comma = text.indexOf(',');
        if (comma < 0) {
            return null;
        }
        long offset = Rsp.parseHex(text.substring(0, comma));
        long length = Rsp.parseHex(text.substring(comma + 1));
        return offset < 0 || length < 0 ? null : new long[] {offset, length};
    }
}
