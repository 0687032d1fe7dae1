package org.tscvm.snapshot;

import org.tscvm.devices.AcpiPm;
import org.tscvm.devices.Cmos;
import org.tscvm.devices.FwCfg;
import org.tscvm.devices.I8042;
import org.tscvm.devices.IoApic;
import org.tscvm.devices.PciHost;
import org.tscvm.devices.PcTestdev;
import org.tscvm.devices.Pic8259;
import org.tscvm.devices.PicPair;
import org.tscvm.devices.Pit8254;
import org.tscvm.devices.ResetControl;
import org.tscvm.devices.ShutdownPort;
import org.tscvm.devices.Uart16550;

/**
 * The bytes of each board device's {@code State} record, one section per device
 * (docs/snapshot-format.md lists the fields). Readers check every array length and count, so
 * a state that reaches a device's {@code restore} is one the device accepts.
 */
final class BoardCodec {
    static final int CMOS_RAM_BYTES = 128;

    private BoardCodec() {
    }

    static byte[] pit(Pit8254.State s) {
        SectionOut out = new SectionOut();
        for (Pit8254.Channel c : s.channels()) {
            out.u8(c.mode()).u8(c.access()).bool(c.bcd()).i32(c.reload()).i64(c.ticksBefore()).i64(c.nanosSinceStart())
                    .bool(c.gate()).bool(c.counting()).i32(c.latchedValue()).u8(c.latchedBytes())
                    .u8(c.statusLatch()).bool(c.statusLatched()).bool(c.readHigh()).bool(c.writeHigh())
                    .u8(c.writeLow()).bool(c.nullCount());
        }
        return out.i32(s.portB()).i64(s.irqFiredTicks()).i64(s.owedIrqs()).toByteArray();
    }

    static Pit8254.State pit(SectionIn in) {
        Pit8254.Channel[] channels = new Pit8254.Channel[3];
        for (int i = 0; i < 3; i++) {
            int mode = in.u8("counter mode");
            if (mode > 5) {
                throw in.corrupt("counter " + i + " mode is " + mode + "; the 8254 has modes 0 to 5");
            }
            int access = in.u8("counter access");
            if (access > 3) {
                throw in.corrupt("counter " + i + " access is " + access + ", not 0 to 3");
            }
            boolean bcd = in.bool("bcd");
            int reload = in.intIn("reload", 0, 0xffff);
            long ticksBefore = in.i64("ticks before");
            long nanosSinceStart = in.i64("nanoseconds since start");
            if (ticksBefore < 0 || nanosSinceStart < 0) {
                throw in.corrupt("counter " + i + " has counted " + ticksBefore + " ticks and " + nanosSinceStart
                        + " ns: a count cannot be negative");
            }
            channels[i] = new Pit8254.Channel(mode, access, bcd, reload, ticksBefore, nanosSinceStart, in.bool("gate"),
                    in.bool("counting"),
                    in.intIn("latched value", 0, 0xffff), latchedBytes(in), in.u8("status latch"),
                    in.bool("status latched"), in.bool("read high"), in.bool("write high"), in.u8("write low"),
                    in.bool("null count"));
        }
        int portB = in.intIn("port B", 0, 0xff);
        long fired = in.i64("IRQ 0 fired at");
        long owed = in.i64("owed IRQs");
        if (fired < -1 || owed < 0) {
            throw in.corrupt("IRQ 0 bookkeeping is negative: fired at " + fired + ", owed " + owed);
        }
        in.end();
        return new Pit8254.State(channels, portB, fired, owed);
    }

    private static int latchedBytes(SectionIn in) {
        int n = in.u8("latched bytes");
        if (n > 2) {
            throw in.corrupt("latched bytes is " + n + ", not 0 to 2");
        }
        return n;
    }

    static byte[] uart(Uart16550.State s) {
        byte[] rx = s.rx();
        return new SectionOut().i32(s.divisor()).u8(s.ier()).u8(s.lcr()).u8(s.mcr()).u8(s.lsr()).u8(s.msr())
                .u8(s.scr()).bool(s.fifoEnabled()).bool(s.thrEmptyPending()).u8(rx.length).raw(rx).toByteArray();
    }

    static Uart16550.State uart(SectionIn in) {
        int divisor = in.intIn("divisor", 0, 0xffff);
        int ier = in.u8("IER");
        int lcr = in.u8("LCR");
        int mcr = in.u8("MCR");
        int lsr = in.u8("LSR");
        int msr = in.u8("MSR");
        int scr = in.u8("SCR");
        boolean fifo = in.bool("FIFO enabled");
        boolean thre = in.bool("THR empty pending");
        int n = in.u8("received bytes");
        if (n > Uart16550.RX_FIFO_SIZE) {
            throw in.corrupt(n + " received bytes do not fit the " + Uart16550.RX_FIFO_SIZE + "-byte FIFO");
        }
        byte[] rx = in.raw("received bytes", n);
        in.end();
        return new Uart16550.State(divisor, ier, lcr, mcr, lsr, msr, scr, fifo, thre, rx);
    }

    static byte[] cmos(Cmos.State s) {
        return new SectionOut().u8(s.index()).bool(s.nmiMasked()).raw(s.ram()).i64(s.rtcSecondsAtClockZero())
                .toByteArray();
    }

    static Cmos.State cmos(SectionIn in) {
        int index = in.u8("index");
        if (index > 0x7f) {
            throw in.corrupt("index is 0x" + Integer.toHexString(index) + "; the CMOS has 128 bytes");
        }
        Cmos.State s = new Cmos.State(index, in.bool("NMI masked"), in.raw("RAM", CMOS_RAM_BYTES),
                in.i64("RTC seconds at clock zero"));
        in.end();
        return s;
    }

    static byte[] fwCfg(FwCfg.State s) {
        return new SectionOut().i32(s.selector()).i32(s.offset()).toByteArray();
    }

    static FwCfg.State fwCfg(SectionIn in) {
        FwCfg.State s = new FwCfg.State(in.intIn("selector", 0, 0xffff), in.intIn("offset", 0, Integer.MAX_VALUE));
        in.end();
        return s;
    }

    static byte[] acpiPm(AcpiPm.State s) {
        return new SectionOut().i32(s.status()).i32(s.enable()).i32(s.control()).toByteArray();
    }

    static AcpiPm.State acpiPm(SectionIn in) {
        AcpiPm.State s = new AcpiPm.State(in.intIn("PM1 status", 0, 0xffff), in.intIn("PM1 enable", 0, 0xffff),
                in.intIn("PM1 control", 0, 0xffff));
        in.end();
        return s;
    }

    static byte[] i8042(I8042.State s) {
        return new SectionOut().u8(s.config()).u8(s.outputPort()).u8(s.pendingCommand()).u8(s.output())
                .bool(s.outputFull()).bool(s.lastWasCommand()).toByteArray();
    }

    static I8042.State i8042(SectionIn in) {
        I8042.State s = new I8042.State(in.u8("configuration byte"), in.u8("output port"), in.u8("pending command"),
                in.u8("output buffer"), in.bool("output full"), in.bool("last was command"));
        in.end();
        return s;
    }

    static byte[] pciHost(PciHost.State s) {
        return new SectionOut().i32(s.address()).toByteArray();
    }

    static PciHost.State pciHost(SectionIn in) {
        PciHost.State s = new PciHost.State(in.i32("CONFIG_ADDRESS"));
        in.end();
        return s;
    }

    static byte[] resetControl(ResetControl.State s) {
        return new SectionOut().u8(s.value()).toByteArray();
    }

    static ResetControl.State resetControl(SectionIn in) {
        ResetControl.State s = new ResetControl.State(in.u8("reset control"));
        in.end();
        return s;
    }

    static byte[] shutdownPort(ShutdownPort.State s) {
        return new SectionOut().u8(s.matched()).toByteArray();
    }

    static ShutdownPort.State shutdownPort(SectionIn in) {
        int matched = in.u8("bytes matched");
        if (matched >= "Shutdown".length()) {
            throw in.corrupt("bytes matched is " + matched + "; \"Shutdown\" has 8");
        }
        in.end();
        return new ShutdownPort.State(matched);
    }

    static byte[] pcTestdev(PcTestdev.State s) {
        return new SectionOut().i32(s.scratch()).raw(s.iomem()).toByteArray();
    }

    static PcTestdev.State pcTestdev(SectionIn in) {
        PcTestdev.State s = new PcTestdev.State(in.i32("scratch"), in.raw("iomem", PcTestdev.IOMEM_SIZE));
        in.end();
        return s;
    }

    static byte[] pic(PicPair.State s) {
        SectionOut out = new SectionOut();
        for (Pic8259.State c : new Pic8259.State[] {s.master(), s.slave()}) {
            out.u8(c.irr()).u8(c.isr()).u8(c.imr()).u8(c.lineLevels()).u8(c.elcr()).u8(c.vectorBase())
                    .u8(c.priorityBase()).u8(c.initStep()).bool(c.needIcw4()).bool(c.single()).bool(c.autoEoi())
                    .bool(c.rotateOnAutoEoi()).bool(c.readIsr()).bool(c.poll()).bool(c.specialMask())
                    .bool(c.specialFullyNested());
        }
        return out.toByteArray();
    }

    static PicPair.State pic(SectionIn in) {
        Pic8259.State[] chips = new Pic8259.State[2];
        for (int i = 0; i < 2; i++) {
            int irr = in.u8("IRR");
            int isr = in.u8("ISR");
            int imr = in.u8("IMR");
            int levels = in.u8("line levels");
            int elcr = in.u8("ELCR");
            int vectorBase = in.u8("vector base");
            if ((vectorBase & 7) != 0) {
                throw in.corrupt("vector base 0x" + Integer.toHexString(vectorBase) + " is not a multiple of 8");
            }
            int priority = in.u8("priority base");
            int initStep = in.u8("init step");
            if (priority > 7 || (initStep != 0 && (initStep < 2 || initStep > 4))) {
                throw in.corrupt("priority base " + priority + " or init step " + initStep + " is impossible");
            }
            chips[i] = new Pic8259.State(irr, isr, imr, levels, elcr, vectorBase, priority, initStep,
                    in.bool("need ICW4"), in.bool("single"), in.bool("auto EOI"), in.bool("rotate on auto EOI"),
                    in.bool("read ISR"), in.bool("poll"), in.bool("special mask"), in.bool("special fully nested"));
        }
        in.end();
        return new PicPair.State(chips[0], chips[1]);
    }

    static byte[] ioApic(IoApic.State s) {
        return new SectionOut().u8(s.index()).u8(s.id()).longs(s.redirection()).i32(s.lineLevels()).toByteArray();
    }

    static IoApic.State ioApic(SectionIn in) {
        int index = in.u8("index");
        int id = in.u8("ID");
        long[] entries = in.longs("redirection table", IoApic.PINS);
        int levels = in.i32("line levels");
        if ((levels >>> IoApic.PINS) != 0) {
            throw in.corrupt("line levels 0x" + Integer.toHexString(levels) + " name pins beyond " + (IoApic.PINS - 1));
        }
        in.end();
        return new IoApic.State(index, id, entries, levels);
    }
}
