package org.tscvm.machine;

import org.tscvm.devices.AcpiPm;
import org.tscvm.devices.Cmos;
import org.tscvm.devices.FwCfg;
import org.tscvm.devices.I8042;
import org.tscvm.devices.IoApic;
import org.tscvm.devices.PciHost;
import org.tscvm.devices.PcTestdev;
import org.tscvm.devices.PicPair;
import org.tscvm.devices.Pit8254;
import org.tscvm.devices.ResetControl;
import org.tscvm.devices.ShutdownPort;
import org.tscvm.devices.Uart16550;

/**
 * Every device on the PC's board, as a snapshot holds it: each device's own {@code State}
 * record (the devices' one save/restore pair is {@code State state()} / {@code restore(State)})
 * and the device time at the save. The local APICs are the vCPUs', not the board's.
 *
 * @param deviceNanos the time the devices saw at the save ({@link org.tscvm.devices.DeviceClock})
 * @param pcTestdev   null when the machine has no pc-testdev
 */
public record BoardState(long deviceNanos, Pit8254.State pit, Uart16550.State uart, Cmos.State cmos,
                         FwCfg.State fwCfg, AcpiPm.State acpiPm, I8042.State i8042, PciHost.State pciHost,
                         ResetControl.State resetControl, ShutdownPort.State shutdownPort,
                         PcTestdev.State pcTestdev, PicPair.State pic, IoApic.State ioApic) {
}
