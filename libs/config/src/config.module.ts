import { DynamicModule, Global, Module } from '@nestjs/common';
import { HesConfig, loadConfig } from './config';

/** Injection token of the frozen HesConfig: `@Inject(HES_CONFIG) config: HesConfig`. */
export const HES_CONFIG = Symbol('HES_CONFIG');

/**
 * Global Nest module providing HES_CONFIG. The configuration is loaded once, when the module is created, so an
 * invalid environment stops the application at start-up with every offending variable named.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(env: Record<string, string | undefined> = process.env): DynamicModule {
    return ConfigModule.forConfig(loadConfig(env));
  }

  /** For tests and tools that build a configuration themselves. */
  static forConfig(config: HesConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: HES_CONFIG, useValue: config }],
      exports: [HES_CONFIG],
    };
  }
}
