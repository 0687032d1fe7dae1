package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

/**
 * The condition-code fast paths (straight from the CMP operands) agree with the conditions
 * computed from the materialised RFLAGS, for every lazy operation, size and condition.
 */
class LazyFlagsTest {
    private static boolean fromFlags(long f, int cc) {
        boolean cf = (f & 1) != 0, pf = (f & 4) != 0, zf = (f & 0x40) != 0, sf = (f & 0x80) != 0,
                of = (f & 0x800) != 0;
        boolean r;
        switch (cc >> 1) {
            case 0: r = of; break;
            case 1: r = cf; break;
            case 2: r = zf; break;
            case 3: r = cf || zf; break;
            case 4: r = sf; break;
            case 5: r = pf; break;
            case 6: r = sf != of; break;
            default: r = zf || sf != of; break;
        }
        return r ^ ((cc & 1) != 0);
    }

    @Test
    void everyConditionCodeMatchesTheMaterialisedFlags() {
        Cpu cpu = new Cpu(new GuestMemory(2L << 20), new FakeBus());
        Random rnd = new Random(42);
        int[] sizes = {1, 2, 4, 8};
        long[] edge = {0, 1, -1, 0x7f, 0x80, 0x7fff, 0x8000, 0x7fffffffL, 0x80000000L, Long.MAX_VALUE, Long.MIN_VALUE};
        for (int i = 0; i < 200_000; i++) {
            int size = sizes[rnd.nextInt(4)];
            long dst = rnd.nextInt(4) == 0 ? edge[rnd.nextInt(edge.length)] : rnd.nextLong();
            long src = rnd.nextInt(4) == 0 ? edge[rnd.nextInt(edge.length)] : rnd.nextLong();
            int kind = rnd.nextInt(8);
            boolean cin = rnd.nextBoolean();
            cpu.loadFlags(cin ? 1 : 0);
            long m = CpuState.mask(size);
            if (kind < 7) {
                cpu.alu(kind, size, dst & m, src & m, cin);
            } else {
                cpu.compute(rnd.nextBoolean() ? CpuExec.K_INC : CpuExec.K_DEC, size, dst & m, 0, cin, 0);
            }
            long flags = cpu.rflags();
            for (int cc = 0; cc < 16; cc++) {
                assertThat(cpu.cond(cc)).as("kind %d size %d dst %x src %x cc %x", kind, size, dst, src, cc)
                        .isEqualTo(fromFlags(flags, cc));
            }
            assertThat(cpu.cf()).isEqualTo((flags & 1) != 0);
        }
    }
}
