package org.tscvm.vm;

/**
 * The system registers of a vCPU, as KVM's {@code struct kvm_sregs} (KVM_GET_SREGS): segment
 * registers with their descriptor caches, the descriptor tables, control registers and EFER.
 * Segment attributes use the VMX access-rights layout: type 0-3, S 4, DPL 5-6, P 7, AVL 12,
 * L 13, D/B 14, G 15, unusable 16.
 */
public record VcpuSregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr,
                        Segment ldt, DescriptorTable gdt, DescriptorTable idt, long cr0, long cr2, long cr3,
                        long cr4, long cr8, long efer) {
    /** One segment register: the selector and the descriptor cache behind it. */
    public record Segment(long base, long limit, int selector, int attributes) {
    }

    /** GDTR or IDTR. */
    public record DescriptorTable(long base, int limit) {
    }

    /** The same registers with another CS (what a far jump or a waking firmware loads). */
    public VcpuSregs withCs(Segment newCs) {
        return new VcpuSregs(newCs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer);
    }

    /** The same registers with other FS and GS bases (what a debugger writes as fs_base, gs_base). */
    public VcpuSregs withSegmentBases(long fsBase, long gsBase) {
        return new VcpuSregs(cs, ds, es, new Segment(fsBase, fs.limit(), fs.selector(), fs.attributes()),
                new Segment(gsBase, gs.limit(), gs.selector(), gs.attributes()), ss, tr, ldt, gdt, idt,
                cr0, cr2, cr3, cr4, cr8, efer);
    }
}
