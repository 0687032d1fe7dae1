package org.tscvm.boot;

import org.tscvm.vm.VcpuRegs;
import org.tscvm.vm.VcpuSregs;

/**
 * The CPU state a loaded kernel starts in: flat 32-bit protected mode with paging off, or
 * flat 64-bit mode on identity-mapped page tables the loader built; CPL 0 and IF = 0 either
 * way (platform.md section 1). CS and the data segments are flat 4 GiB with the selectors the
 * protocol names, GDTR as given, the registers below as given and the other general-purpose
 * registers as RESET leaves them (0, but EDX = the processor signature).
 *
 * <pre>{@code
 * EntryPoint e = EntryPoint.multiboot(0x100000, 0x9500, imageEnd);   // EAX = 0x2BADB002, EBX = MBI
 * }</pre>
 *
 * @param mode         32-bit protected mode or 64-bit mode
 * @param ip           the physical entry address (EIP, or RIP in 64-bit mode)
 * @param codeSelector CS
 * @param dataSelector DS, ES, FS, GS and SS
 * @param gdtBase      GDTR's base: a GDT the loader wrote, or 0 with {@link #RESET_GDT_LIMIT} (GDTR as at RESET)
 * @param gdtLimit     GDTR's limit
 * @param cr3          the page tables of a 64-bit entry (0 in protected mode)
 * @param eax          EAX: the multiboot magic, or 0
 * @param ebx          EBX: the multiboot information or PVH start_info address, or 0
 * @param esi          ESI (RSI): Linux's zero page (boot_params), or 0
 * @param imageEnd     the first byte above everything the loader placed (image, bss, modules)
 */
public record EntryPoint(Mode mode, long ip, int codeSelector, int dataSelector, long gdtBase, int gdtLimit,
                         long cr3, int eax, int ebx, int esi, long imageEnd) {
    /** The CPU mode at entry. */
    public enum Mode {
        /** CR0 = PE|ET, paging off, 32-bit code segment. */
        PROTECTED_32,
        /** CR0 = PE|ET|PG, CR4 = PAE, EFER = LME|LMA|NXE, 64-bit code segment. */
        LONG_64
    }

    /** EAX at a multiboot entry: tells the kernel a multiboot-1 loader started it. */
    public static final int MULTIBOOT_BOOTLOADER_MAGIC = 0x2BADB002;
    /** The selectors of the multiboot entry (platform.md section 1) and of PVH, whose ABI leaves them open. */
    static final int FLAT_CODE_SELECTOR = 0x08;
    static final int FLAT_DATA_SELECTOR = 0x10;
    /** GDTR's limit at RESET; with base 0 it is the GDTR a kernel that loads its own GDT first finds. */
    static final int RESET_GDT_LIMIT = 0xffff;

    /** Access rights (VMX layout) of the flat descriptors: code 32-bit, code 64-bit, data; accessed, DPL 0. */
    private static final int FLAT_CODE32_ATTRIBUTES = 0xc09b, FLAT_CODE64_ATTRIBUTES = 0xa09b, FLAT_DATA_ATTRIBUTES = 0xc093;
    private static final long CR0_PE = 1, CR0_ET = 1L << 4, CR0_PG = 1L << 31, CR4_PAE = 1L << 5;
    private static final long EFER_LME = 1L << 8, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;
    private static final long RFLAGS_FIXED = 2;

    /**
     * The special registers at entry, from those at RESET ({@code reset}): flat segments with
     * the protocol's selectors, GDTR as given, CR0/CR4/EFER (and CR3 in 64-bit mode) for the
     * mode; the IDT, TR, LDTR, CR2 and CR8 as RESET left them.
     */
    public VcpuSregs sregs(VcpuSregs reset) {
        boolean longMode = mode == Mode.LONG_64;
        VcpuSregs.Segment code = new VcpuSregs.Segment(0, 0xffffffffL, codeSelector,
                longMode ? FLAT_CODE64_ATTRIBUTES : FLAT_CODE32_ATTRIBUTES);
        VcpuSregs.Segment data = new VcpuSregs.Segment(0, 0xffffffffL, dataSelector, FLAT_DATA_ATTRIBUTES);
        return new VcpuSregs(code, data, data, data, data, data, reset.tr(), reset.ldt(),
                new VcpuSregs.DescriptorTable(gdtBase, gdtLimit & 0xffff), reset.idt(),
                longMode ? CR0_PE | CR0_ET | CR0_PG : CR0_PE | CR0_ET, reset.cr2(), longMode ? cr3 : reset.cr3(),
                longMode ? CR4_PAE : 0, reset.cr8(), longMode ? EFER_LME | EFER_LMA | EFER_NXE : 0);
    }

    /** The general registers at entry: {@code reset}'s with EAX, EBX, ESI, RIP and RFLAGS (IF = 0) set. */
    public VcpuRegs regs(VcpuRegs reset) {
        return new VcpuRegs(Integer.toUnsignedLong(eax), Integer.toUnsignedLong(ebx), reset.rcx(), reset.rdx(),
                Integer.toUnsignedLong(esi), reset.rdi(), reset.rsp(), reset.rbp(), reset.r8(), reset.r9(), reset.r10(),
                reset.r11(), reset.r12(), reset.r13(), reset.r14(), reset.r15(), ip, RFLAGS_FIXED);
    }

    /** Multiboot: EAX = 0x2BADB002, EBX = the MBI. */
    public static EntryPoint multiboot(int eip, int mbi, long imageEnd) {
        return new EntryPoint(Mode.PROTECTED_32, Integer.toUnsignedLong(eip), FLAT_CODE_SELECTOR, FLAT_DATA_SELECTOR,
                0, RESET_GDT_LIMIT, 0, MULTIBOOT_BOOTLOADER_MAGIC, mbi, 0, imageEnd);
    }

    /** A flat binary: the multiboot state with no MBI (EBX = 0). */
    public static EntryPoint flat(int eip, long imageEnd) {
        return multiboot(eip, 0, imageEnd);
    }

    /** PVH (Xen's HVM direct boot ABI): EBX = hvm_start_info, selectors unspecified by the ABI. */
    public static EntryPoint pvh(int eip, int startInfo, long imageEnd) {
        return new EntryPoint(Mode.PROTECTED_32, Integer.toUnsignedLong(eip), FLAT_CODE_SELECTOR, FLAT_DATA_SELECTOR,
                0, RESET_GDT_LIMIT, 0, 0, startInfo, 0, imageEnd);
    }
}
