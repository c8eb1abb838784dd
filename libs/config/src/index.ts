export { loadConfig, ConfigError } from './config';
export type {
  HesConfig,
  HesTopics,
  TopicConfig,
  ConfigIssue,
  NodeEnv,
  LogLevel,
  StorageDialect,
  ApiConfig,
  OidcConfig,
  WebSocketConfig,
} from './config';
export { SecretKey } from './secret-key';
export { parseTrustProxy, type TrustProxy } from './trust-proxy';
export { ConfigModule, HES_CONFIG } from './config.module';
