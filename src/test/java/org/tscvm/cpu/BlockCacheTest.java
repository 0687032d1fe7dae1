package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BlockCacheTest {
    @Test
    void aLinkToACacheSlotDecodedAgainSinceIsNotFollowed() {
        // B (0x20000) and C (0x4000c) share a block cache slot (phys ^ phys >>> 15, 32768
        // slots), so each call to C replaces B there. The block at 0x10007 links to B in the
        // second round; in the third that link must not run C's instructions at B's address.
        CpuRig rig = new CpuRig().longMode();
        rig.load(0x20000, CpuRig.hex("48 83 c0 01 c3"));  // add $1,%rax; ret
        rig.load(0x4000c, CpuRig.hex("48 83 c3 01 c3"));  // add $1,%rbx; ret
        rig.cpu.setGpr(Cpu.RAX, 0);
        rig.cpu.setGpr(Cpu.RBX, 0);
        rig.run(CpuRig.hex(
                "48 c7 c1 03 00 00 00"     // 10000: mov $3,%rcx
                + " e8 f4 ff 00 00"        // 10007: call 0x20000
                + " e8 fb ff 02 00"        // 1000c: call 0x4000c
                + " 48 ff c9"              // 10011: dec %rcx
                + " 75 f1"                 // 10014: jnz 0x10007
                + " f4"));                 // 10016: hlt
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(3);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(3);
    }
}
