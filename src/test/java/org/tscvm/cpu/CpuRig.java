package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.tscvm.memory.GuestMemory;

/**
 * A 64-bit test machine built in guest memory: GDT, IDT with one HLT handler per vector, a
 * 64-bit TSS, identity-mapped 2 MiB pages over the first GiB, code at {@link #CODE}.
 *
 * <pre>
 * 0x0500 GDT: 08 code64 DPL0, 10 data DPL0, 18 code32 DPL3, 20 data DPL3, 28 code64 DPL3,
 *        30 TSS64 (16 bytes), 40 code32 DPL0
 * 0x0600 GDTR image, 0x0610 IDTR image
 * 0x1000 PML4, 0x2000 PDPT, 0x3000 PD (2 MiB pages, user, writable)
 * 0x4000 IDT (256 gates), 0x5000 TSS (RSP0 = 0x90000, IST1 = 0xa0000)
 * 0x8000 + 16*v: the handler for vector v, a HLT
 * 0xf000 setup code (lgdt, lidt, ltr), 0x10000 test code, stack top 0x80000
 * </pre>
 */
final class CpuRig {
    static final long CODE = 0x10000, STACK_TOP = 0x80000, RSP0 = 0x90000, IST1 = 0xa0000;
    static final long HANDLERS = 0x8000, IDT = 0x4000, GDT = 0x500, TSS = 0x5000;

    final GuestMemory memory;
    final FakeBus bus = new FakeBus();
    final Cpu cpu;

    CpuRig() {
        this(new GuestMemory(16L << 20));
    }

    CpuRig(GuestMemory memory) {
        this.memory = memory;
        cpu = new Cpu(memory, bus);
        bus.cpu = cpu;
    }

    static byte[] hex(String s) {
        String[] parts = s.trim().split("\\s+");
        byte[] b = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            b[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return b;
    }

    void load(long paddr, byte[] bytes) {
        memory.load(paddr, bytes, 0, bytes.length);
    }

    void w64(long paddr, long v) {
        memory.write64(paddr, v);
    }

    long r64(long paddr) {
        return memory.read64(paddr);
    }

    static long gate64(long handler, int selector, int type, int dpl, int ist) {
        return (handler & 0xffff) | ((long) selector << 16) | ((long) ist << 32) | ((long) type << 40)
                | ((long) dpl << 45) | (1L << 47) | (((handler >>> 16) & 0xffff) << 48);
    }

    void setGate(int vector, long handler, int type, int dpl, int ist) {
        w64(IDT + vector * 16L, gate64(handler, 0x08, type, dpl, ist));
        w64(IDT + vector * 16L + 8, handler >>> 32);
    }

    /** Builds the tables and enters 64-bit mode at CPL 0 with RIP = CODE. */
    CpuRig longMode() {
        w64(GDT + 0x08, 0x00af9a000000ffffL);
        w64(GDT + 0x10, 0x00cf92000000ffffL);
        w64(GDT + 0x18, 0x00cffa000000ffffL);
        w64(GDT + 0x20, 0x00cff2000000ffffL);
        w64(GDT + 0x28, 0x00affa000000ffffL);
        w64(GDT + 0x30, 0x67 | ((TSS & 0xffffff) << 16) | (0x89L << 40));
        w64(GDT + 0x38, 0);
        w64(GDT + 0x40, 0x00cf9a000000ffffL);
        memory.write16(0x600, 0x47);
        w64(0x602, GDT);
        memory.write16(0x610, 0xfff);
        w64(0x612, IDT);
        w64(0x1000, 0x2000 | 7);
        w64(0x2000, 0x3000 | 7);
        for (int i = 0; i < 512; i++) {
            w64(0x3000 + i * 8L, ((long) i << 21) | 0x87);
        }
        for (int v = 0; v < 256; v++) {
            memory.write8(HANDLERS + v * 16L, 0xf4);
            setGate(v, HANDLERS + v * 16L, 0xe, 0, 0);
        }
        w64(TSS + 4, RSP0);
        w64(TSS + 0x24, IST1);
        memory.write16(TSS + 0x66, 0x68); // I/O bitmap offset: no bitmap within the limit
        // f000: lgdt 0x600; lidt 0x610; mov $0x30,%ax; ltr %ax; mov $0x10,%ax; mov %eax,%ds; mov %eax,%ss; hlt
        load(0xf000, hex("0f 01 14 25 00 06 00 00 0f 01 1c 25 10 06 00 00 66 b8 30 00 0f 00 d8 66 b8 10 00 8e d8 8e d0 f4"));
        cpu.enterFlatLongMode(0xf000, 0x1000, 0);
        assertThat(cpu.run(100)).isEqualTo(RunStop.HALTED);
        cpu.setRip(CODE);
        cpu.setGpr(Cpu.RSP, STACK_TOP);
        return this;
    }

    /** Loads {@code code} at CODE, where RIP is set to start it. */
    CpuRig withCode(byte[] code) {
        load(CODE, code);
        cpu.setRip(CODE);
        return this;
    }

    /** Loads {@code code} at CODE and runs it until HLT. */
    CpuRig run(byte[] code) {
        withCode(code);
        RunStop stop = cpu.run(50_000_000);
        assertThat(stop).as(cpu.describe()).isEqualTo(RunStop.HALTED);
        return this;
    }

    /** The vector whose HLT handler stopped the CPU, or -1 when the test code's own HLT did. */
    int haltedInVector() {
        long rip = cpu.getRip() - 1;
        if (rip >= HANDLERS && rip < HANDLERS + 256 * 16 && (rip - HANDLERS) % 16 == 0) {
            return (int) ((rip - HANDLERS) / 16);
        }
        return -1;
    }

    long reg(int r) {
        return cpu.getGpr(r);
    }

    /** The quadword at RSP + 8 * index. */
    long stack(int index) {
        return r64(cpu.getGpr(Cpu.RSP) + 8L * index);
    }

    /** Registers, RIP, RFLAGS and the retired count of a compiled run equal an interpreted one's. */
    static void assertSameState(CpuRig compiled, CpuRig interpreted) {
        for (int r = 0; r < 16; r++) {
            assertThat(compiled.cpu.getGpr(r)).as("register %d", r).isEqualTo(interpreted.cpu.getGpr(r));
        }
        assertThat(compiled.cpu.getRip()).as("RIP").isEqualTo(interpreted.cpu.getRip());
        assertThat(compiled.cpu.getRflags()).as("RFLAGS").isEqualTo(interpreted.cpu.getRflags());
        assertThat(compiled.cpu.instructionsRetired()).as("retired").isEqualTo(interpreted.cpu.instructionsRetired());
    }

    long arithFlags() {
        return cpu.getRflags() & 0x8d5;
    }
}
