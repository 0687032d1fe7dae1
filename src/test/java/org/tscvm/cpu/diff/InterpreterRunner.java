package org.tscvm.cpu.diff;

import org.tscvm.cpu.Cpu;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.RunStop;
import org.tscvm.memory.GuestMemory;

/**
 * Runs a {@link DiffCase} on tscvm's interpreter: 64-bit mode at CPL 0, page tables that map
 * the buffer and the code at the same linear addresses the native harness uses, the
 * instruction followed by HLT.
 */
final class InterpreterRunner {
    private static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT_BUF = 0x4000, PT_CODE = 0x5000;
    private static final long BUF_PHYS = 0x10000, CODE_PHYS = 0x11000;
    private static final long PRESENT_WRITABLE_USER = 0x7;
    private static final byte HLT = (byte) 0xf4;
    /** Enough for the longest case (a REP string op of 7 iterations), far below a runaway loop. */
    private static final long BUDGET = 1000;

    private final GuestMemory memory = new GuestMemory(GuestMemory.MIN_BYTES);
    private final Cpu cpu = new Cpu(memory, new QuietBus());
    private final byte[] codeBytes = new byte[4096];

    InterpreterRunner() {
        this(Cpu.DEFAULT_COMPILE_THRESHOLD);
    }

    /** A runner whose CPU compiles a block after {@code compileThreshold} runs (0: never). */
    InterpreterRunner(int compileThreshold) {
        cpu.setCompileThreshold(compileThreshold);
        memory.write64(PML4, PDPT | PRESENT_WRITABLE_USER);
        memory.write64(PDPT, PD | PRESENT_WRITABLE_USER);
        memory.write64(PD + 8 * (DiffCase.BUF_ADDR >>> 21), PT_BUF | PRESENT_WRITABLE_USER);
        memory.write64(PD + 8 * (DiffCase.CODE_ADDR >>> 21), PT_CODE | PRESENT_WRITABLE_USER);
        memory.write64(PT_BUF, BUF_PHYS | PRESENT_WRITABLE_USER);
        memory.write64(PT_CODE, CODE_PHYS | PRESENT_WRITABLE_USER);
    }

    CpuState run(DiffCase c) {
        try {
            int len = c.code().length;
            System.arraycopy(c.code(), 0, codeBytes, 0, len);
            codeBytes[len] = HLT;
            memory.load(CODE_PHYS, codeBytes, 0, len + 1);
            memory.load(BUF_PHYS, c.mem(), 0, DiffCase.BUF_SIZE);
            cpu.enterFlatLongMode(DiffCase.CODE_ADDR, PML4, 0);
            for (int i = 0; i < 16; i++) {
                cpu.setGpr(i, c.gpr()[i]);
            }
            // A stack in the buffer's page but past the buffer: harmless if an instruction pushes.
            cpu.setGpr(Cpu.RSP, DiffCase.BUF_ADDR + 0xf00);
            cpu.setRflags(0x2 | (c.rflags() & DiffCase.LOADABLE_FLAGS));
            cpu.setX87(c.fx());
            RunStop stop = cpu.run(BUDGET);
            long expectedRip = DiffCase.CODE_ADDR + len + 1;
            String fault = "";
            if (stop != RunStop.HALTED) {
                fault = "interpreter stopped with " + stop + ": " + cpu.describe();
            } else if (cpu.getRip() != expectedRip) {
                fault = "interpreter halted at rip " + Long.toHexString(cpu.getRip()) + ", expected "
                        + Long.toHexString(expectedRip) + " (instruction length)";
            }
            long[] gpr = new long[16];
            for (int i = 0; i < 16; i++) {
                gpr[i] = i == Cpu.RSP ? 0 : cpu.getGpr(i);
            }
            byte[] mem = new byte[DiffCase.BUF_SIZE];
            for (int i = 0; i < mem.length; i++) {
                mem[i] = (byte) memory.read8(BUF_PHYS + i);
            }
            return new CpuState(gpr, cpu.getRflags(), mem, fault, cpu.getX87());
        } catch (RuntimeException e) {
            return new CpuState(new long[16], 0, c.mem(), "interpreter threw " + e, c.fx());
        }
    }

    /**
     * Runs {@code code} (several instructions may follow each other; HLT is appended) from the
     * given registers, flags and buffer, and describes everything the run left: how it
     * stopped, RIP, the retired count, every register, all of RFLAGS and the buffer.
     */
    String trace(byte[] code, long[] gpr, long rflags, byte[] mem) {
        return trace(code, gpr, rflags, mem, DiffCase.FNINIT_FX);
    }

    /** {@link #trace} from an x87 state (bytes 0-159 of FXSAVE64); the x87 state it left is described too. */
    String trace(byte[] code, long[] gpr, long rflags, byte[] mem, byte[] fx) {
        System.arraycopy(code, 0, codeBytes, 0, code.length);
        codeBytes[code.length] = HLT;
        memory.load(CODE_PHYS, codeBytes, 0, code.length + 1);
        memory.load(BUF_PHYS, mem, 0, DiffCase.BUF_SIZE);
        cpu.enterFlatLongMode(DiffCase.CODE_ADDR, PML4, 0);
        for (int i = 0; i < 16; i++) {
            cpu.setGpr(i, gpr[i]);
        }
        cpu.setGpr(Cpu.RSP, DiffCase.BUF_ADDR + 0xf00);
        cpu.setRflags(0x2 | (rflags & DiffCase.LOADABLE_FLAGS));
        cpu.setX87(fx);
        long before = cpu.instructionsRetired();
        RunStop stop = cpu.run(BUDGET);
        StringBuilder b = new StringBuilder();
        b.append(stop).append(" rip=").append(Long.toHexString(cpu.getRip()))
                .append(" retired=").append(cpu.instructionsRetired() - before)
                .append(" rflags=").append(Long.toHexString(cpu.getRflags()));
        for (int i = 0; i < 16; i++) {
            b.append(' ').append(DiffCase.REG_NAMES[i]).append('=').append(Long.toHexString(cpu.getGpr(i)));
        }
        b.append(" mem=");
        for (int i = 0; i < DiffCase.BUF_SIZE; i++) {
            b.append(java.util.HexFormat.of().toHexDigits((byte) memory.read8(BUF_PHYS + i)));
        }
        b.append(" x87=").append(java.util.HexFormat.of().formatHex(cpu.getX87()));
        b.append(' ').append(stop == RunStop.HALTED ? "" : cpu.describe());
        return b.toString();
    }

    long compiledBlocks() {
        return cpu.compiledBlocks();
    }

    /** Nothing outside RAM exists for these cases: MMIO reads all ones, I/O is ignored. */
    private static final class QuietBus implements CpuBus {
        @Override
        public long mmioRead(long paddr, int size) {
            return -1L;
        }

        @Override
        public void mmioWrite(long paddr, int size, long value) {
        }

        @Override
        public int ioIn(int port, int size) {
            return size == 4 ? -1 : (1 << (8 * size)) - 1;
        }

        @Override
        public void ioOut(int port, int size, int value) {
        }

        @Override
        public long rdmsr(int index) {
            throw CpuFault.gp0();
        }

        @Override
        public void wrmsr(int index, long value) {
            throw CpuFault.gp0();
        }

        @Override
        public void cpuid(int leaf, int subleaf, int[] out) {
            java.util.Arrays.fill(out, 0);
        }

        @Override
        public long rdtsc() {
            return 0;
        }

        @Override
        public int tscAux() {
            return 0;
        }

        @Override
        public int pendingInterrupt() {
            return -1;
        }

        @Override
        public int acknowledgeInterrupt() {
            return -1;
        }
    }
}
