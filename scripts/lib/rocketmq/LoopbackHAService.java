// LoopbackHAService: the RocketMQ 5.x broker's HA service (master-to-slave
// commit log replication, on listenPort + 1) listening on one address instead
// of every interface. The broker has no setting for this: DefaultHAService
// binds new InetSocketAddress(haListenPort), the wildcard address, whatever
// bindAddress says. The broker loads its HA service through
// ServiceProvider.loadClass(HAService.class), which reads the class name from
// the classpath resource META-INF/service/org.apache.rocketmq.store.ha.HAService;
// scripts/services.sh compiles this class and writes that resource next to it,
// ahead of the broker's jars. Everything else is DefaultHAService unchanged.
//
// The address comes from the system property mkt.ha.bindAddress (default
// 127.0.0.1). If RocketMQ's internals no longer match, the broker fails to
// start rather than fall back to the wildcard address.
package mkt.rocketmq;

import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import org.apache.rocketmq.store.DefaultMessageStore;
import org.apache.rocketmq.store.ha.DefaultHAService;

public class LoopbackHAService extends DefaultHAService {
    @Override
    public void init(DefaultMessageStore store) throws IOException {
        super.init(store);
        String host = System.getProperty("mkt.ha.bindAddress", "127.0.0.1");
        InetSocketAddress addr = new InetSocketAddress(host, store.getMessageStoreConfig().getHaListenPort());
        try {
            // Set before start(): beginAccept() binds this address.
            Field f = DefaultHAService.AcceptSocketService.class.getDeclaredField("socketAddressListen");
            f.setAccessible(true);
            f.set(this.acceptSocketService, addr);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("mkt: cannot bind the HA service to " + addr + " (RocketMQ's DefaultHAService changed?)", e);
        }
    }
}
