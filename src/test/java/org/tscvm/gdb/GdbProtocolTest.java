package org.tscvm.gdb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.machine.SerialTarget;
import org.tscvm.vm.VmConfig;

/**
 * The remote protocol, packet by packet, against a machine in this JVM that waits for the
 * debugger (-S). The guest is a few hand-assembled 32-bit instructions (flat image at 1 MiB).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GdbProtocolTest {
    private static final long LOAD = 0x100000;
    /**
     * <pre>
     * 100000 B8 00 00 00 00     mov eax, 0
     * 100005 40                 inc eax            (loop)
     * 100006 A3 00 10 10 00     mov [0x101000], eax
     * 10000b 83 F8 05           cmp eax, 5
     * 10000e 75 F5              jne loop
     * 100010 66 BA F4 00        mov dx, 0xf4
     * 100014 B8 00 00 00 00     mov eax, 0
     * 100019 EF                 out dx, eax        (isa-debug-exit: status 1)
     * </pre>
     */
    private static final byte[] COUNT_TO_FIVE = bytes(0xB8, 0, 0, 0, 0, 0x40, 0xA3, 0x00, 0x10, 0x10, 0x00,
            0x83, 0xF8, 0x05, 0x75, 0xF5, 0x66, 0xBA, 0xF4, 0x00, 0xB8, 0, 0, 0, 0, 0xEF);
    /** 100000 EB FE: jmp $ (forever). */
    private static final byte[] SPIN = bytes(0xEB, 0xFE);

    private Machine machine;
    private CompletableFuture<RunResult> run;
    private RspClient gdb;

    private void start(byte[] code, int smp, VmConfig.ClockKind clock) throws IOException {
        machine = new Machine(MachineConfig.builder().kernel("test.bin", code).flat(LOAD, LOAD).smp(smp)
                .clock(clock).serial(new SerialTarget.None()).timeout(Duration.ofSeconds(50))
                .gdb(new MachineConfig.Gdb("127.0.0.1", 0, true)).build());
        run = CompletableFuture.supplyAsync(machine::run);
        gdb = new RspClient(machine.gdbPort());
    }

    private void start(byte[] code) throws IOException {
        start(code, 1, VmConfig.ClockKind.REAL_TIME);
    }

    @AfterEach
    void end() throws Exception {
        if (gdb != null) {
            gdb.close();
        }
        if (run != null) {
            run.get(30, TimeUnit.SECONDS); // a closed connection detaches; the guest then ends
        }
    }

    private RunResult result() throws Exception {
        return run.get(30, TimeUnit.SECONDS);
    }

    /** Register {@code n}'s value from a {@code p} reply (little-endian hex). */
    private long register(int n) throws IOException {
        return littleEndian(gdb.ask("p" + Integer.toHexString(n)));
    }

    private static long littleEndian(String hex) {
        long v = 0;
        for (int i = hex.length() - 2; i >= 0; i -= 2) {
            v = v << 8 | Integer.parseInt(hex.substring(i, i + 2), 16);
        }
        return v;
    }

    @Test
    void framingChecksumsAcksAndNoAckMode() throws Exception {
        start(COUNT_TO_FIVE);
        gdb.sendRaw("+");
        assertThat(gdb.ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386"))
                .isEqualTo("PacketSize=1000;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+");
        gdb.sendRaw("$?#00"); // wrong checksum: refused, and nothing is answered
        assertThat((char) gdb.receiveAck()).isEqualTo('-');
        gdb.sendRaw("$?#3f"); // and again, right
        assertThat((char) gdb.receiveAck()).isEqualTo('+');
        assertThat(gdb.receive()).isEqualTo("T05thread:1;");
        gdb.sendRaw("-"); // gdb asks for the last packet again
        assertThat(gdb.receive()).isEqualTo("T05thread:1;");
        assertThat(gdb.ask("QStartNoAckMode")).isEqualTo("OK");
        gdb.noAckFromNowOn();
        gdb.send("qC");
        assertThat(gdb.receive()).isEqualTo("QC1");
        assertThat(gdb.ask("vMustReplyEmpty")).isEmpty();
    }

    @Test
    void targetDescriptionComesInPiecesAndNamesTheX8664Registers() throws Exception {
        start(COUNT_TO_FIVE);
        StringBuilder xml = new StringBuilder();
        while (true) {
            String piece = gdb.ask("qXfer:features:read:target.xml:" + Integer.toHexString(xml.length()) + ",200");
            xml.append(piece.substring(1));
            if (piece.startsWith("l")) {
                break;
            }
            assertThat(piece).startsWith("m").hasSizeGreaterThan(1);
        }
        assertThat(xml.toString()).isEqualTo(X86Registers.TARGET_XML)
                .contains("<architecture>i386:x86-64</architecture>", "org.gnu.gdb.i386.core",
                        "name=\"rip\"", "name=\"fs_base\"", "name=\"cr3\"", "name=\"efer\"");
        assertThat(gdb.ask("qXfer:features:read:other.xml:0,100")).startsWith("E");
        assertThat(gdb.ask("qXfer:features:read:target.xml:ffffff,100")).startsWith("E");
    }

    @Test
    void registersReadAndWriteInTheTargetDescriptionsNumbering() throws Exception {
        start(COUNT_TO_FIVE);
        String g = gdb.ask("g");
        assertThat(g).hasSize(2 * X86Registers.BLOCK_SIZE);
        assertThat(littleEndian(g.substring(2 * 8 * 16, 2 * 8 * 17))).as("rip").isEqualTo(LOAD);
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        assertThat(register(X86Registers.CS)).isEqualTo(0x08); // flat protected mode's code selector
        assertThat(register(X86Registers.CR0) & 1).as("CR0.PE").isEqualTo(1);
        assertThat(gdb.ask("P0=efcdab8967452301")).isEqualTo("OK");
        assertThat(register(0)).isEqualTo(0x0123456789abcdefL);
        assertThat(gdb.ask("P6=1122334455667788")).isEqualTo("OK"); // gdb's 6 is rbp
        assertThat(machine.vm().vcpus().get(0).getRegs().rbp()).isEqualTo(0x8877665544332211L);
        assertThat(gdb.ask("P12=08000000")).as("cs, unchanged").isEqualTo("OK");
        assertThat(gdb.ask("P12=10000000")).as("cs, changed: read-only").startsWith("E");
        // G writes back what g read: everything equal, so OK.
        String all = gdb.ask("g");
        assertThat(gdb.ask("G" + all)).isEqualTo("OK");
        assertThat(gdb.ask("g")).isEqualTo(all);
    }

    @Test
    void memoryIsGuestVirtualAndUnmappedAddressesAnswerE14() throws Exception {
        start(COUNT_TO_FIVE);
        assertThat(gdb.ask("m100000,6")).isEqualTo("b80000000040");
        assertThat(gdb.ask("M101000,4:deadbeef")).isEqualTo("OK");
        assertThat(gdb.ask("m101000,4")).isEqualTo("deadbeef");
        // X carries binary: '#', '$', '}' and '*' travel escaped as 0x7d, byte ^ 0x20.
        gdb.sendRaw(new String(Rsp.frame("X101000,4:" + "#$}*"), java.nio.charset.StandardCharsets.ISO_8859_1));
        assertThat((char) gdb.receiveAck()).isEqualTo('+');
        assertThat(gdb.receive()).isEqualTo("OK");
        assertThat(gdb.ask("m101000,4")).isEqualTo("23247d2a");
        assertThat(gdb.ask("m10000000,4")).as("beyond 128 MiB of RAM").isEqualTo("E14");
        assertThat(gdb.ask("M10000000,1:00")).isEqualTo("E14");
        assertThat(gdb.ask("m7ffffffe,4")).as("RAM ends inside: nothing at all").isEqualTo("E14");
    }

    @Test
    void breakpointStopsBeforeTheInstructionWithoutChangingMemoryAndStepRunsOne() throws Exception {
        start(COUNT_TO_FIVE);
        assertThat(gdb.ask("Z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("m100006,1")).as("the guest never sees a breakpoint byte").isEqualTo("a3");
        assertThat(gdb.ask("vCont;c")).isEqualTo("T05thread:1;swbreak:;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x100006);
        assertThat(register(0)).as("eax").isEqualTo(1);
        assertThat(gdb.ask("m101000,4")).as("the store has not run").isEqualTo("00000000");
        assertThat(gdb.ask("z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("vCont;s:1")).isEqualTo("T05thread:1;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x10000b);
        assertThat(gdb.ask("m101000,4")).isEqualTo("01000000");
        assertThat(gdb.ask("Z1,100005,1")).isEqualTo("OK");
        assertThat(gdb.ask("c")).isEqualTo("T05thread:1;hwbreak:;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x100005);
        assertThat(gdb.ask("z1,100005,1")).isEqualTo("OK");
        assertThat(gdb.ask("s")).isEqualTo("T05thread:1;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x100006);
        assertThat(gdb.ask("c")).isEqualTo("W01");
        assertThat(result().exitStatus()).isEqualTo(1);
    }

    @Test
    void onTheDeterministicClockBsGoesBackOneInstructionAndBcToTheLastBreakpointHit() throws Exception {
        start(COUNT_TO_FIVE, 1, VmConfig.ClockKind.DETERMINISTIC);
        assertThat(gdb.ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386"))
                .endsWith(";QStartNoAckMode+;ReverseStep+;ReverseContinue+");
        assertThat(gdb.ask("bs")).as("at the start of history").isEqualTo("T05thread:1;replaylog:begin;");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        assertThat(gdb.ask("Z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("vCont;c")).isEqualTo("T05thread:1;swbreak:;");
        assertThat(gdb.ask("z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("vCont;s:1")).isEqualTo("T05thread:1;");
        assertThat(gdb.ask("Z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("vCont;c")).isEqualTo("T05thread:1;swbreak:;");
        assertThat(register(0)).as("eax on the second hit").isEqualTo(2);
        assertThat(gdb.ask("m101000,4")).isEqualTo("01000000");

        assertThat(gdb.ask("bs")).isEqualTo("T05thread:1;");
        assertThat(register(X86Registers.RIP)).as("before inc eax").isEqualTo(0x100005);
        assertThat(register(0)).isEqualTo(1);
        assertThat(gdb.ask("bc")).isEqualTo("T05thread:1;swbreak:;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x100006);
        assertThat(register(0)).as("eax on the first hit").isEqualTo(1);
        assertThat(gdb.ask("m101000,4")).as("the first store has not run").isEqualTo("00000000");
        assertThat(gdb.ask("bc")).isEqualTo("T05thread:1;replaylog:begin;");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);

        assertThat(gdb.ask("vCont;c")).as("forward again: the same first hit").isEqualTo("T05thread:1;swbreak:;");
        assertThat(register(0)).isEqualTo(1);
        assertThat(gdb.ask("z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("Z2,101000,4")).isEqualTo("OK");
        assertThat(gdb.ask("c")).isEqualTo("T05thread:1;watch:101000;");
        assertThat(gdb.ask("c")).isEqualTo("T05thread:1;watch:101000;");
        assertThat(gdb.ask("m101000,4")).isEqualTo("02000000");
        assertThat(gdb.ask("bc")).as("back to before the store that wrote 2").isEqualTo("T05thread:1;watch:101000;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x100006);
        assertThat(gdb.ask("m101000,4")).isEqualTo("01000000");
        assertThat(gdb.ask("z2,101000,4")).isEqualTo("OK");
        assertThat(gdb.ask("c")).isEqualTo("W01");
        assertThat(result().exitStatus()).isEqualTo(1);
    }

    @Test
    void ctrlCStopsALongReverseContinueWhereItsReplayHasGotTo() throws Exception {
        start(SPIN, 1, VmConfig.ClockKind.DETERMINISTIC);
        gdb.send("c");
        Thread.sleep(1500); // a few hundred checkpoints of history
        gdb.sendRaw("\u0003");
        assertThat(gdb.receive()).isEqualTo("T02thread:1;");
        // A watchpoint nothing writes: bc replays all history one instruction at a time, for seconds.
        assertThat(gdb.ask("Z2,101000,4")).isEqualTo("OK");
        gdb.send("bc");
        Thread.sleep(100);
        gdb.sendRaw("\u0003");
        assertThat(gdb.receive()).as("stopped by Ctrl-C, not at the beginning of history").isEqualTo("T02thread:1;");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        assertThat(gdb.ask("z2,101000,4")).isEqualTo("OK");
        assertThat(gdb.ask("bc")).as("with nothing to replay it reaches the beginning").isEqualTo("T05thread:1;replaylog:begin;");
        gdb.send("k");
        assertThat(gdb.closedByPeer()).isTrue();
        assertThat(result().exitStatus()).isEqualTo(RunResult.STATUS_KILLED);
    }

    @ParameterizedTest
    @EnumSource(value = VmConfig.ClockKind.class)
    void reverseIsNeitherOfferedNorDoneOnTheRealClockOrWithSeveralVcpus(VmConfig.ClockKind clock) throws Exception {
        int smp = clock == VmConfig.ClockKind.DETERMINISTIC ? 2 : 1;
        start(COUNT_TO_FIVE, smp, clock);
        assertThat(gdb.ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386")).doesNotContain("Reverse");
        assertThat(gdb.ask("bs")).isEqualTo("E01");
        assertThat(gdb.ask("bc")).isEqualTo("E01");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        assertThat(gdb.ask("vCont;c")).isEqualTo("W01");
        assertThat(result().exitStatus()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void watchpointsStopAfterTheAccessAndNameTheWatchedAddress(VmConfig.ClockKind clock) throws Exception {
        start(COUNT_TO_FIVE, 1, clock);
        assertThat(gdb.ask("Z2,101000,4")).isEqualTo("OK");
        assertThat(gdb.ask("c")).isEqualTo("T05thread:1;watch:101000;");
        assertThat(register(X86Registers.RIP)).as("after the store").isEqualTo(0x10000b);
        assertThat(gdb.ask("m101000,4")).isEqualTo("01000000");
        assertThat(gdb.ask("z2,101000,4")).isEqualTo("OK");
        assertThat(gdb.ask("Z4,101002,1")).as("a byte inside the stored dword").isEqualTo("OK");
        assertThat(gdb.ask("c")).isEqualTo("T05thread:1;awatch:101002;");
        assertThat(gdb.ask("m101000,4")).isEqualTo("02000000");
        assertThat(gdb.ask("z4,101002,1")).isEqualTo("OK");
        assertThat(gdb.ask("Z3,101000,4")).isEqualTo("OK"); // nothing reads it
        assertThat(gdb.ask("c")).isEqualTo("W01");
        assertThat(result().exitStatus()).isEqualTo(1);
    }

    @Test
    void ctrlCStopsARunningGuestAndKillEndsTheRunWithStatus24() throws Exception {
        start(SPIN);
        assertThat(gdb.ask("QStartNoAckMode")).isEqualTo("OK");
        gdb.noAckFromNowOn();
        gdb.send("c");
        Thread.sleep(200);
        gdb.sendRaw("\u0003");
        assertThat(gdb.receive()).isEqualTo("T02thread:1;");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        gdb.send("k");
        assertThat(gdb.closedByPeer()).isTrue();
        assertThat(result().exitStatus()).isEqualTo(RunResult.STATUS_KILLED);
    }

    @Test
    void attachingToARunningMachineStopsIt() throws Exception {
        machine = new Machine(MachineConfig.builder().kernel("test.bin", SPIN).flat(LOAD, LOAD).smp(2)
                .serial(new SerialTarget.None()).timeout(Duration.ofSeconds(50))
                .gdb(new MachineConfig.Gdb("127.0.0.1", 0, false)).build());
        run = CompletableFuture.supplyAsync(machine::run);
        Thread.sleep(200); // the guest spins before gdb comes
        gdb = new RspClient(machine.gdbPort());
        assertThat(gdb.ask("?")).isEqualTo("T05thread:1;");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        gdb.send("k");
        assertThat(result().exitStatus()).isEqualTo(RunResult.STATUS_KILLED);
    }

    @Test
    void detachLeavesNoBreakpointBehindAndTheGuestRunsToItsEnd() throws Exception {
        start(COUNT_TO_FIVE);
        assertThat(gdb.ask("Z0,100006,1")).isEqualTo("OK");
        assertThat(gdb.ask("D")).isEqualTo("OK");
        assertThat(result().exitStatus()).isEqualTo(1);
    }

    @Test
    void threadsAreVcpus() throws Exception {
        start(COUNT_TO_FIVE, 2, VmConfig.ClockKind.REAL_TIME);
        assertThat(gdb.ask("qfThreadInfo")).isEqualTo("m1,2");
        assertThat(gdb.ask("qsThreadInfo")).isEqualTo("l");
        assertThat(gdb.ask("T2")).isEqualTo("OK");
        assertThat(gdb.ask("T3")).startsWith("E");
        assertThat(gdb.ask("qThreadExtraInfo,2")).isEqualTo(Rsp.hex("vCPU 1"));
        assertThat(gdb.ask("Hg2")).isEqualTo("OK");
        assertThat(gdb.ask("qC")).isEqualTo("QC2");
        assertThat(register(X86Registers.RIP)).as("an AP waiting for STARTUP").isEqualTo(0xfff0);
        assertThat(gdb.ask("Hg1")).isEqualTo("OK");
        assertThat(register(X86Registers.RIP)).isEqualTo(LOAD);
        assertThat(gdb.ask("Hg5")).startsWith("E");
        // Step vCPU 0 only; vCPU 1 stays stopped.
        assertThat(gdb.ask("vCont;s:1")).isEqualTo("T05thread:1;");
        assertThat(register(X86Registers.RIP)).isEqualTo(0x100005);
        assertThat(gdb.ask("vCont;c")).isEqualTo("W01");
    }

    @Test
    void malformedPacketsGetErrorsOrEmptyRepliesAndTheSessionGoesOn() throws Exception {
        start(COUNT_TO_FIVE);
        for (String bad : new String[] {"m", "mzz,4", "m100000", "M100000,2:0", "X100000,zz:", "p", "pzz", "p99",
                "P", "P0=12", "Z0", "Z9,0,0", "Z2,101000,0", "z0,xyz,1", "Hx1", "Hg", "Hgq", "T", "vCont;q",
                "vCont;c:77", "vCont;t", "qXfer:features:read:target.xml", "qThreadExtraInfo,9", "G12",
                "\u0000\u00ff", "qUnknown", "!", "vFlashErase:0,0"}) {
            assertThat(gdb.ask(bad)).as(bad).matches("E[0-9a-f]{2}|");
        }
        assertThat(gdb.ask("?")).isEqualTo("T05thread:1;");
        assertThat(gdb.ask("c")).isEqualTo("W01");
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }
}
